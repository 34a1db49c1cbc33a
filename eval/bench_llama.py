"""Benchmark: llama.cpp's raw prompt and decode speed with the answer model, and what the
installed build is compiled for.

    python -m eval.bench_llama                      # the default model
    python -m eval.bench_llama --model PATH --repeat 5

Prints JSON: prompt tokens/s (the median of `--repeat` evaluations of a prompt of the default
corpus's text, about `--prompt-tokens` long, from an empty context), decode tokens/s (greedy,
`--decode-tokens` one at a time), the model load time, and how many AMX, AVX-512 (zmm) and
AVX2 (ymm) instructions `objdump -d` finds in the loaded libggml-cpu.so. Compare two builds
by running it once in each environment (for example with PYTHONPATH pointing at another
`llama_cpp` package folder). `eval.bench` measures the same raw speeds with these functions,
on the prompts its questions give.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from rag.config import cores, load_settings
from rag.load import load_articles
from rag.models import resolve_model
from rag.pipeline import default_corpus
from rag.seams import Message

AMX = ("tileloadd", "tdpbssd", "tdpbusd", "tdpbf16ps", "tilezero", "ldtilecfg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file (default: the bundled model)")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=cores())
    args = parser.parse_args()
    print(json.dumps(measure(args), indent=2))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import llama_cpp

    model = args.model or resolve_model(load_settings())
    started = time.perf_counter()
    llm = load(model, context_tokens=2048, threads=args.threads)
    load_s = time.perf_counter() - started
    text = "\n\n".join(a.body for a in load_articles([default_corpus()]).articles)
    tokens = llm.tokenize(text.encode("utf-8"))[: args.prompt_tokens]
    prompt_s = statistics.median(prefill_seconds(llm, tokens) for _ in range(args.repeat))
    library = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    return {
        "llama_cpp": llama_cpp.__version__,
        "library": str(library),
        "model": model.name,
        "threads": args.threads,
        "load_seconds": round(load_s, 2),
        "prompt_tokens": len(tokens),
        "prompt_tokens_per_second": round(len(tokens) / prompt_s, 1),
        "decode_tokens_per_second": round(decode_rate(llm, args.decode_tokens), 1),
        "instructions": count_instructions(library),
    }


def load(model: Path, *, context_tokens: int, threads: int | None) -> Any:
    """The model in llama.cpp, as newsrag's generator loads it."""
    from rag.backends.llama_cpp import open_model

    return open_model(model, context_tokens=context_tokens, threads=threads)


def chat_tokens(llm: Any, messages: Sequence[Message]) -> list[int]:
    """The tokens `create_chat_completion` gives the model for `messages`: the model's own
    chat template (from the GGUF), tokenized with its special tokens."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return str(llm._model.token_get_text(token)) if token != -1 else ""

    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=text(llm.token_eos()),
        bos_token=text(llm.token_bos()),
    )
    result = formatter(messages=cast(Any, list(messages)))
    tokens: list[int] = llm.tokenize(
        result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
    )
    return tokens


def prefill_seconds(llm: Any, tokens: Sequence[int]) -> float:
    """Seconds llama.cpp takes to read `tokens` from an empty context."""
    llm.reset()
    started = time.perf_counter()
    llm.eval(list(tokens))
    return time.perf_counter() - started


def decode_rate(llm: Any, count: int) -> float:
    """Tokens per second of `count` greedy tokens, one at a time, after what was read."""
    started = time.perf_counter()
    for _ in range(count):
        llm.eval([llm.sample(temp=0.0)])
    return count / (time.perf_counter() - started)


def count_instructions(library: Path) -> dict[str, int] | str:
    """AMX, AVX-512 and AVX2 instructions in `library`, by `objdump -d`."""
    if shutil.which("objdump") is None:
        return "objdump not found"
    listing = subprocess.run(
        ["objdump", "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout
    return {
        "amx": len(re.findall(r"\b(?:" + "|".join(AMX) + r")\b", listing)),
        "avx512_zmm": listing.count("%zmm"),
        "avx2_ymm": listing.count("%ymm"),
    }


if __name__ == "__main__":
    main()
