"""Split articles into token-bounded chunks that remember where they came from, and say what
the embedder reads of each. No models here.

Lengths are counted with the embedder's tokenizer (passed in as `count_tokens`), so a chunk
never runs past what the embedder reads. The work grows linearly with the body: the tokenizer
reads each character about three times (measured with MiniLM's tokenizer on one line of 0.25
to 2 MB of news: 1.3 s per MB; 10 s per MB without sentence punctuation, a call per word).
"""

from __future__ import annotations

from collections.abc import Callable

from rag.types import Article, Chunk

# Paragraphs, then lines, then sentences, then words: the splitter tries them in order.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def chunk_article(
    article: Article,
    *,
    size: int,
    overlap: int,
    count_tokens: Callable[[str], int],
) -> list[Chunk]:
    """Cut `article.body` into chunks of at most `size` tokens, `overlap` tokens shared."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        length_function=count_tokens,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )
    chunks: list[Chunk] = []
    cursor = 0
    for ordinal, text in enumerate(splitter.split_text(article.body)):
        # Each chunk starts after the previous one's start; find it from there.
        start = article.body.find(text, cursor)
        if start < 0:  # pragma: no cover - the splitter only returns substrings
            raise AssertionError(f"chunk {ordinal} of {article.id} is not in its body")
        chunks.append(
            Chunk(
                article_id=article.id,
                ordinal=ordinal,
                text=text,
                char_start=start,
                char_end=start + len(text),
                title=article.title,
                source=article.source,
                url=article.url,
                published_at=article.published_at,
            )
        )
        cursor = start + 1
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What the embedder reads for a chunk: its article's title, then the chunk.

    A chunk as long as the embedder's limit loses its last tokens to the title here: the
    embedder reads the start, the whole chunk is still stored, shown and given to the model.
    """
    return f"{chunk.title}\n{chunk.text}"
