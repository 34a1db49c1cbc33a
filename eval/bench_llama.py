"""Benchmark: llama.cpp's raw prompt and decode speed with the answer model, and what the
installed build is compiled for.

    python -m eval.bench_llama                      # the default model
    python -m eval.bench_llama --model PATH --repeat 5

Prints JSON: prompt tokens/s (the median of `--repeat` evaluations of a prompt of the default
corpus's text, about `--prompt-tokens` long, from an empty context), decode tokens/s (greedy,
`--decode-tokens` one at a time), the model load time, and how many AMX, AVX-512 (zmm) and
AVX2 (ymm) instructions `objdump -d` finds in the loaded libggml-cpu.so. Compare two builds
by running it once in each environment (for example with PYTHONPATH pointing at another
`llama_cpp` package folder).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from rag.config import load_settings
from rag.load import load_articles
from rag.models import resolve_model
from rag.pipeline import default_corpus

AMX = ("tileloadd", "tdpbssd", "tdpbusd", "tdpbf16ps", "tilezero", "ldtilecfg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="GGUF file (default: the bundled model)")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    print(json.dumps(measure(args), indent=2))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import llama_cpp

    model = args.model or resolve_model(load_settings())
    started = time.perf_counter()
    llm: Any = llama_cpp.Llama(
        model_path=str(model), n_ctx=2048, n_threads=args.threads, verbose=False
    )
    load = time.perf_counter() - started
    text = "\n\n".join(a.body for a in load_articles([default_corpus()]).articles)
    tokens = llm.tokenize(text.encode("utf-8"))[: args.prompt_tokens]

    prompt_seconds = []
    for _ in range(args.repeat):
        llm.reset()
        started = time.perf_counter()
        llm.eval(tokens)
        prompt_seconds.append(time.perf_counter() - started)

    started = time.perf_counter()
    for _ in range(args.decode_tokens):
        llm.eval([llm.sample(temp=0.0)])
    decode = time.perf_counter() - started

    library = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    return {
        "llama_cpp": llama_cpp.__version__,
        "library": str(library),
        "model": model.name,
        "threads": args.threads,
        "load_seconds": round(load, 2),
        "prompt_tokens": len(tokens),
        "prompt_tokens_per_second": round(len(tokens) / statistics.median(prompt_seconds), 1),
        "decode_tokens_per_second": round(args.decode_tokens / decode, 1),
        "instructions": count_instructions(library),
    }


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
