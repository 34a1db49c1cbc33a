from __future__ import annotations

import itertools
import random

import pytest

from rag.chunking import chunk_article
from rag.types import Article


def count_words(text: str) -> int:
    return len(text.split())


def make_article(body: str) -> Article:
    return Article(id="a1", title="T", body=body, source="S", url="https://x.example/a")


def random_body(seed: int) -> str:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "talks", "London", "Kyiv", "said", "the"]
    paragraphs = []
    for _ in range(rng.randint(1, 8)):
        sentences = [
            " ".join(rng.choice(words) for _ in range(rng.randint(3, 30))) + rng.choice(".?!")
            for _ in range(rng.randint(1, 6))
        ]
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


@pytest.mark.parametrize("seed", range(20))
def test_offsets_point_at_the_chunk_text_and_cover_the_body(seed: int) -> None:
    article = make_article(random_body(seed))
    chunks = chunk_article(article, size=25, overlap=5, count_tokens=count_words)
    covered = [False] * len(article.body)
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert article.body[chunk.char_start : chunk.char_end] == chunk.text
        assert count_words(chunk.text) <= 25
        covered[chunk.char_start : chunk.char_end] = [True] * len(chunk.text)
    uncovered = "".join(c for c, hit in zip(article.body, covered, strict=True) if not hit)
    assert uncovered.strip() == ""


def test_consecutive_chunks_overlap() -> None:
    body = " ".join(f"w{i}" for i in range(100))
    chunks = chunk_article(make_article(body), size=20, overlap=5, count_tokens=count_words)
    assert len(chunks) > 4
    for before, after in itertools.pairwise(chunks):
        assert after.char_start < before.char_end
        assert before.text.split()[-1] in after.text.split()


def test_a_repeated_passage_gets_its_own_offsets() -> None:
    body = "Same line here.\n\nSame line here.\n\nSame line here."
    chunks = chunk_article(make_article(body), size=4, overlap=0, count_tokens=count_words)
    assert [c.char_start for c in chunks] == [0, 17, 34]


def test_chunks_carry_the_article_metadata() -> None:
    article = make_article("One short article.")
    [chunk] = chunk_article(article, size=50, overlap=10, count_tokens=count_words)
    assert (chunk.article_id, chunk.title, chunk.source, chunk.url) == (
        "a1",
        "T",
        "S",
        "https://x.example/a",
    )
    assert chunk.id == "a1::0"


ENGLISH = "The council met on Tuesday to discuss the bridge, and the mayor said it would close. "


@pytest.mark.parametrize(
    ("head", "sentence"),
    [
        ("", ENGLISH),  # one long line of sentences
        ("", ENGLISH.replace(",", "").replace(".", "")),  # one line, no sentence punctuation
        ("Headline\n\n", ENGLISH),  # a title paragraph, then one long line
    ],
    ids=["sentences", "no-punctuation", "after-a-heading"],
)
def test_tokenizing_work_grows_linearly_with_the_body(head: str, sentence: str) -> None:
    def characters_counted_per_body_character(copies: int) -> float:
        counted = 0

        def count(text: str) -> int:
            nonlocal counted
            counted += len(text)
            return count_words(text)

        body = head + sentence * copies
        chunk_article(make_article(body), size=200, overlap=40, count_tokens=count)
        return counted / len(body)

    once, twice = (
        characters_counted_per_body_character(1500),
        characters_counted_per_body_character(3000),
    )
    # Linear: doubling the body does not raise the work per character (quadratic would double it).
    assert twice < once * 1.1
    assert twice < 6
