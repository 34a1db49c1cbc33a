"""Follow-up questions: which need the conversation, how the model is asked to rewrite them,
and what of its reply is kept. Fakes at the model seams only; how the pipeline answers the
rewrite is in test_pipeline."""

from __future__ import annotations

import pytest
from conftest import ScriptedGenerator

from rag import followup
from rag.types import Turn

LONDON = Turn(
    "Who attended the London meeting?",
    "The London meeting was attended by the UK, France, Germany, and Ukraine [1].",
)
MAYOR = Turn("Who is the mayor of Port Alder?", "The mayor of Port Alder is Ines Okafor [1].")


@pytest.mark.parametrize(
    "question",
    [
        "and what did Ukraine refuse to recognize?",
        "And Germany?",
        "What about France?",
        "how about the US envoy?",
        "But why did the talks fail?",
        "So who will pay for the repairs?",
        "Also, what did the council decide?",
        "What did she say about the crack?",
        "Why did they withdraw?",
        "Who else was there?",
        "Did the council give the same reason?",
        "Is that the final cost of the repairs?",
        "When?",
    ],
)
def test_a_question_that_leans_on_the_conversation_needs_it(question: str) -> None:
    assert followup.needs_history(question, [LONDON])
    assert not followup.needs_history(question, [])  # nothing to lean on: asked as it is


@pytest.mark.parametrize(
    "question",
    [
        "Who is the mayor of Port Alder?",
        "What did the Harbour Bridge repairs cost?",
        "Which library won the National Reading Prize in 2025?",
        "Andorra hosted which summit in April 2025?",  # "and" only as a word
        "Did Sofia Themba open the Harbour Bridge?",  # "them" only as a word
    ],
)
def test_a_question_that_stands_alone_does_not(question: str) -> None:
    assert not followup.needs_history(question, [LONDON])


def test_the_rewrite_asks_with_the_last_turns_and_keeps_the_models_question() -> None:
    generator = ScriptedGenerator("What did Ines Okafor say about the crack?")
    older = [Turn(f"Old question {n}?", f"Old answer {n}.") for n in range(5)]
    history = [*older, LONDON, MAYOR]
    rewritten = followup.rewrite("what did she say about the crack?", history, generator)
    assert rewritten == "What did Ines Okafor say about the crack?"
    [messages] = generator.prompts
    [message] = messages  # one user message: no system message, which some templates refuse
    assert message["role"] == "user"
    prompt = message["content"]
    assert "Old question 4?" in prompt and "Old question 3?" not in prompt  # the last three
    mayor = "Human: Who is the mayor of Port Alder?\nAssistant: The mayor of Port Alder is"
    assert f"{mayor} Ines Okafor.\n" in prompt
    assert "[1]" not in prompt  # the answers' markers mean nothing to the rewrite
    assert prompt.endswith(
        "Follow Up Input: what did she say about the crack?\nStandalone question:"
    )


def test_a_long_answer_is_shortened_in_the_prompt() -> None:
    long = Turn("What happened?", "The council met. " * 100)
    [message] = followup.build_messages("and why?", [long])
    shown = message["content"].split("Assistant: ")[1].split("\n")[0]
    assert shown.endswith(" ...") and len(shown) <= followup.ANSWER_CHARS + 4


QUESTION = "what did she say about the crack?"


@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        ("Standalone question: What did Ines Okafor say?", "What did Ines Okafor say?"),
        (
            '"What did Ines Okafor say about the crack?"',
            "What did Ines Okafor say about the crack?",
        ),
        ("**What did Ines Okafor say?**", "What did Ines Okafor say?"),
        (
            "\n  What did Ines Okafor say?\nI replaced 'she' with her name.",
            "What did Ines Okafor say?",
        ),
        ("Rewritten question:\nWhat did Ines Okafor say?", "What did Ines Okafor say?"),
        # Not a usable rewrite: the question stays as asked.
        ("", QUESTION),
        ("  \n\n", QUESTION),
        ('""', QUESTION),
        ("Who attended the London meeting?", QUESTION),  # nothing of the question left
        ("What did Ines Okafor say about the crack " + "and the bridge " * 20 + "?", QUESTION),
        ("What did she say about the crack?", QUESTION),  # an echo is no rewrite
    ],
)
def test_only_a_usable_reply_is_taken_as_the_rewrite(reply: str, kept: str) -> None:
    assert followup.clean(reply, QUESTION) == kept


def test_a_rewrite_may_not_turn_a_when_question_into_a_yes_no_question() -> None:
    asked = "When was she first elected?"
    assert followup.clean("Was Ines Okafor first elected in 2020?", asked) == asked
    assert followup.clean("When was Ines Okafor first elected?", asked) == (
        "When was Ines Okafor first elected?"
    )
    assert followup.clean("Did France attend the London meeting?", "What about France?") == (
        "Did France attend the London meeting?"
    )


def test_a_question_without_words_that_carry_meaning_takes_any_reply() -> None:
    assert followup.clean("Why did the US officials withdraw?", "Why?") == (
        "Why did the US officials withdraw?"
    )


def test_a_continuation_that_lost_the_thread_gets_the_last_question_as_context() -> None:
    generator = ScriptedGenerator("What did Ukraine refuse to recognize?")
    asked = "and what did Ukraine refuse to recognize?"
    assert followup.rewrite(asked, [MAYOR, LONDON], generator) == (
        "What did Ukraine refuse to recognize? (following: Who attended the London meeting?)"
    )
    # A rewrite that names the subject needs no context; nor does a question that only
    # points back (the model replaces what it points at).
    named = "What did Ukraine refuse to recognize at the London meeting?"
    assert followup.keep_thread(named, asked, [LONDON]) == named
    pointing = "Why did Ukraine refuse it?"
    assert followup.keep_thread(pointing, pointing, [LONDON]) == pointing
    # The context given to the last question is not given on: only its own words are.
    chained = Turn("What did Ukraine refuse? (following: Who attended the London meeting?)", "")
    assert followup.keep_thread("What about Crimea?", "what about Crimea?", [chained]) == (
        "What about Crimea? (following: What did Ukraine refuse?)"
    )
