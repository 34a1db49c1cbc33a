from __future__ import annotations

import pytest

from rag.cite import content_words, ground, parse_markers, split_sentences, supporting_span
from rag.types import Chunk, Passage

PASSAGES = [
    "Officials from the UK, France, Germany and Ukraine met in London on Wednesday.",
    "Rubio and Witkoff went to Moscow instead of London.",
    "Ukraine rejects recognizing Crimea as Russian territory.",
]


def passages(*texts: str) -> list[Passage]:
    return [
        Passage(
            Chunk(
                article_id=f"a{n}",
                ordinal=0,
                text=text,
                char_start=0,
                char_end=len(text),
                title=f"Story {n}",
            ),
            score=0.5,
        )
        for n, text in enumerate(texts, start=1)
    ]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("They met [1].", [1]),
        ("A [2]. B [1][2].", [2, 1]),
        ("A [1, 3]; B [3;2].", [1, 3, 2]),
        ("No markers.", []),
        ("Array [a] and [ 1 ] are not markers.", []),
    ],
)
def test_parse_markers(text: str, numbers: list[int]) -> None:
    assert parse_markers(text) == numbers


def test_split_sentences_moves_trailing_markers_back() -> None:
    assert split_sentences("They met. [1] Rubio left! [2][3] Why?") == [
        "They met. [1]",
        "Rubio left! [2][3]",
        "Why?",
    ]


def test_content_words_drop_stopwords_markers_and_plurals() -> None:
    assert content_words("The officials met in London [2].") == {"official", "met", "london"}


def test_a_correct_marker_is_kept() -> None:
    text, citations = ground("Rubio went to Moscow [2].", passages(*PASSAGES))
    assert text == "Rubio went to Moscow [2]."
    assert [(c.number, c.passage.chunk.article_id) for c in citations] == [(2, "a2")]


def test_a_missing_marker_is_added_from_the_supporting_passage() -> None:
    text, citations = ground(
        "The London meeting was attended by the UK, France, Germany, and Ukraine.",
        passages(*PASSAGES),
    )
    assert text == "The London meeting was attended by the UK, France, Germany, and Ukraine [1]."
    assert [c.number for c in citations] == [1]


def test_a_wrong_or_invalid_marker_is_replaced() -> None:
    text, _ = ground(
        "Ukraine rejects recognizing Crimea as Russian [1]. Rubio went to Moscow [9].",
        passages(*PASSAGES),
    )
    assert text == "Ukraine rejects recognizing Crimea as Russian [3]. Rubio went to Moscow [2]."


def test_a_claim_spanning_two_passages_cites_both() -> None:
    text, citations = ground(
        "Rubio went to Moscow while Ukraine rejected Crimea as Russian.", passages(*PASSAGES)
    )
    assert [c.number for c in citations] == [2, 3]
    assert text.endswith("[2][3].")


def test_unsupported_sentences_are_dropped() -> None:
    text, citations = ground(
        "Officials from France met in London [1]. The Dallas Cowboys won the Super Bowl [1].",
        passages(*PASSAGES),
    )
    assert text == "Officials from France met in London [1]."
    assert [c.number for c in citations] == [1]


def test_nothing_supported_leaves_nothing() -> None:
    assert ground("The 2024 Super Bowl was won by the Dallas Cowboys.", passages(*PASSAGES)) == (
        "",
        (),
    )


def test_a_sentence_without_content_words_is_kept_uncited() -> None:
    text, citations = ground("Yes. Rubio went to Moscow.", passages(*PASSAGES))
    assert text == "Yes. Rubio went to Moscow [2]."
    assert [c.number for c in citations] == [2]


def test_the_supporting_sentence_is_the_one_sharing_most_with_the_claim() -> None:
    text = "Talks opened on Monday. Ministers from France and Germany attended. Rain fell."
    answer = "France and Germany attended [2]. It rained [1]."
    start, end = supporting_span(answer, 2, text)
    assert text[start:end] == "Ministers from France and Germany attended."
    assert text[slice(*supporting_span(answer, 1, text))] == "Rain fell."
