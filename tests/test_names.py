"""The names a name question is answered from."""

from __future__ import annotations

from rag.names import Sentence, candidate_names


def names(question: str, *sentences: tuple[str, str, float]) -> list[str]:
    return [n.text for n in candidate_names(question, [Sentence(*s) for s in sentences])]


def test_names_in_the_sentences_that_matter_most_come_first() -> None:
    assert names(
        "Who runs the port?",
        ("The port is run by Ana Ruiz.", "a", 0.9),
        ("Tom Berg sails on weekends.", "b", 0.2),
    ) == ["Ana Ruiz", "Tom Berg"]


def test_a_name_in_several_articles_adds_up() -> None:
    assert names(
        "Who founded the exchange?",
        ("Sam Bankman-Fried founded the FTX exchange.", "a", 0.6),
        ("Prosecutors say Bankman-Fried misled investors.", "b", 0.5),
        ("Judge Kaplan heard the founder of the exchange.", "a", 0.7),
    )[:2] == ["Sam Bankman-Fried", "Judge Kaplan"]


def test_words_the_question_uses_and_sentence_starts_are_no_names() -> None:
    found = names(
        "Who is the mayor of Port Alder?",
        ("Mayor Ines Okafor of Port Alder said so.", "a", 0.8),
        ("Officials met.", "b", 0.5),
        ("Loading Google took time, the mayor said.", "b", 0.5),
        ("The Securities and Exchange Commission sued, the exchange said.", "c", 0.4),
    )
    assert found == ["Ines Okafor", "Google", "Securities", "Exchange Commission"]


def test_a_possessive_separates_two_names() -> None:
    assert names("What chatbot?", ("He praised OpenAI's ChatGPT in Paris.", "a", 1.0)) == [
        "OpenAI",
        "ChatGPT",
        "Paris",
    ]


def test_a_question_after_a_person_ranks_acronyms_lower() -> None:
    said = (
        ("FTX collapsed after FTX traders left.", "a", 0.9),
        ("Sam Bankman-Fried ran it.", "a", 0.6),
    )
    assert names("Who ran the exchange?", *said)[0] == "Sam Bankman-Fried"
    assert names("Which exchange collapsed?", *said)[0] == "FTX"


def test_a_title_before_a_persons_name_is_left_off() -> None:
    found = names(
        "Who withdrew from the talks?",
        ("US Secretary of State Marco Rubio withdrew, Mayor Ines Okafor said.", "a", 0.9),
        ("General Motors and Judge Kaplan stayed.", "b", 0.5),
    )
    assert found == ["Marco Rubio", "Ines Okafor", "General Motors", "Judge Kaplan"]


def test_a_name_the_passage_calls_what_the_question_asks_for_comes_first() -> None:
    said = (
        ("Mayor Ines Okafor thanked the crews and Port Alder.", "a", 0.8),
        ("The plates came from the Lenz foundry, the council said.", "b", 0.5),
        ("Tomas Reyes, a baker on the quay, lost trade.", "c", 0.45),
    )
    assert names("Which foundry made the plates?", *said)[0] == "Lenz"
    assert names("Which baker lost trade?", *said)[0] == "Tomas Reyes"
    assert names("Who thanked the crews?", *said)[0] == "Ines Okafor"


def test_a_short_form_counts_for_the_full_name() -> None:
    found = names(
        "Which bank held rates?",
        ("The Fed held rates.", "a", 0.9),
        ("The Federal Reserve under Jerome Powell met.", "b", 0.4),
    )
    assert found[:2] == ["Federal Reserve", "Jerome Powell"]
