"""Support by word matching: names and numbers are never optional."""

from __future__ import annotations

import pytest

from rag.verify import answered_share, key_terms, missing_names, numbers, sentences, support

PASSAGE = (
    "The bridge closed on Sunday. The city council estimated the repair at 2.4 million euros. "
    "Mayor Ines Okafor said the crack was 40 centimetres long."
)


def even(_word: str) -> float:
    return 1.0


def rare(word: str) -> float:
    """Rarity as a big index would give it: common words weigh little."""
    return 0.2 if word in {"bridg", "city", "said", "council"} else 3.0


def test_sentences_are_found_with_their_offsets() -> None:
    spans = sentences(PASSAGE)
    assert PASSAGE[slice(*spans[0])] == "The bridge closed on Sunday."
    assert len(spans) == 3


def test_a_sentence_ends_after_its_closing_quote() -> None:
    text = 'The mayor said "We will rebuild." The council agreed. (It rained.)'
    assert [text[s:e] for s, e in sentences(text)] == [
        'The mayor said "We will rebuild."',
        "The council agreed.",
        "(It rained.)",
    ]


def test_numbers_drop_thousands_separators_only() -> None:
    assert numbers("2,400 people paid 2.4 million on 12 April") == {"2400", "2.4", "12"}


def test_key_terms_are_names_and_number_words_not_the_first_word() -> None:
    assert key_terms("Ines Okafor") == {"ine", "okafor"}
    assert key_terms("Yesterday the mayor of Port Alder spoke ten times") == {
        "port",
        "alder",
        "ten",
    }


def test_a_right_sentence_is_found_with_its_span_and_score() -> None:
    found = support("Ines Okafor", PASSAGE, even, about="Who is the mayor?")
    assert found is not None
    assert PASSAGE[found.start : found.end].startswith("Mayor Ines Okafor said")
    assert 0.9 <= found.score <= 1.0


def test_a_wrong_name_is_not_supported_however_many_words_match() -> None:
    assert (
        support("Mayor Ines Okafur said the crack was 40 centimetres long", PASSAGE, even) is None
    )


def test_a_wrong_number_is_not_supported() -> None:
    assert support("The council estimated the repair at 2.9 million euros", PASSAGE, even) is None
    assert support("The council estimated the repair at 2.4 million euros", PASSAGE, even)


def test_a_right_sentence_without_markers_or_names_still_finds_its_support() -> None:
    found = support("the repair was estimated at 2.4 million euros", PASSAGE, even)
    assert found is not None and PASSAGE[found.start : found.end].startswith("The city council")


def test_rare_words_weigh_more_than_common_ones() -> None:
    demolition = "When will the bridge be demolished?"
    closure = "Was the bridge closed on Sunday?"
    assert answered_share(demolition, [PASSAGE], rare) < 0.2
    assert answered_share(closure, [PASSAGE], rare) > 0.9


@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("Who was elected mayor of Millbrook?", ["Millbrook"]),
        ("What did Ines Okafor say about the crack?", []),
        ("Who won the 2024 Super Bowl?", ["2024 Super Bowl"]),
        ("Did Mayor Okafor pay 2.4 million or 3.5 million?", ["3.5"]),
    ],
)
def test_missing_names(question: str, missing: list[str]) -> None:
    assert missing_names(question, [PASSAGE]) == missing
