"""Deciding, before any model runs, that the passages cannot answer a question."""

from __future__ import annotations

from rag.answer import unsupported
from rag.types import Chunk, Passage

TEXT = "Mayor Ines Okafor said the Harbour Bridge in Port Alder will reopen on 12 April."
INDEXED = {
    "mayor",
    "ine",
    "okafor",
    "harbour",
    "bridge",
    "port",
    "alder",
    "reopen",
    "april",
    "oslo",
    "herald",
    "ferry",
}


def rarity(word: str) -> float:
    """Words the index holds are common; any other word is as rare as can be."""
    return 1.0 if word in INDEXED else 5.0


def passages(text: str = TEXT, source: str = "Herald") -> list[Passage]:
    chunk = Chunk("a", 0, text, 0, len(text), "Bridge news", source=source)
    return [Passage(chunk, 0.5)]


def test_a_name_the_index_lacks_declines() -> None:
    reason = unsupported(
        "Who was elected mayor of Millbrook?", "name", passages(), rarity=rarity, sources=[]
    )
    assert reason == "No article in the index mentions Millbrook."


def test_a_name_the_passages_lack_declines_when_they_hold_little_of_the_question() -> None:
    question = "When will Oslo open its ferry?"
    reason = unsupported(question, "open", passages(), rarity=rarity, sources=[])
    assert reason == "No passage found for the question mentions Oslo."


def test_a_yes_no_question_about_a_name_the_passages_lack_is_the_models_to_answer() -> None:
    question = "Will Oslo open its ferry?"
    assert unsupported(question, "yes_no", passages(), rarity=rarity, sources=[]) is None
    unknown = "Will Millbrook open its ferry?"
    reason = unsupported(unknown, "yes_no", passages(), rarity=rarity, sources=[])
    assert reason == "No article in the index mentions Millbrook."


def test_a_figure_with_a_unit_is_no_name_to_hinge_on() -> None:
    question = "When will the 18-month Harbour Bridge repair end?"
    assert unsupported(question, "open", passages(), rarity=rarity, sources=[]) is None


def test_a_missing_name_is_tolerated_when_the_passages_hold_the_rest() -> None:
    question = "When will Mayor Ines Okafor of Port Alder reopen the Harbour Bridge, as Oslo did?"
    assert unsupported(question, "open", passages(), rarity=rarity, sources=[]) is None


def test_outlets_and_dates_are_the_filters_business() -> None:
    question = "Did the Oslo Herald report on March 3 that the Harbour Bridge will reopen?"
    herald = ["Oslo Herald"]
    assert unsupported(question, "yes_no", passages(), rarity=rarity, sources=herald) is None


def test_no_passage_declines() -> None:
    reason = unsupported("Who?", "name", [], rarity=rarity, sources=[])
    assert reason == "No passage matches the question."
