"""Answer a question from its passages in the way a small model does reliably, by kind.

- Before any model runs, decline when the passages cannot hold the answer: a name the
  question hinges on is in none of them (and either the whole index lacks it, or the
  passages cover too little of the question).
- `yes_no`: the model's own probabilities of "Yes" and "No" as its first word decide,
  against a threshold calibrated on MultiHop-RAG's development questions.
- `name`: the names the passages spell out are the options; the model picks one by letter.
  An answer can only be a name that is in a passage.
- `open`: the model writes a short answer; it stands only if a passage sentence holds its
  names and numbers (`rag.verify.support`).

The short answer comes first, then the passage sentences that support it, each with `[n]`:
the sources' own words, so that nothing after the short answer can be made up.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.evidence import best_support, excerpts, relevance, strongest
from rag.kinds import Kind
from rag.names import POSSESSIVE, Sentence, candidate_names
from rag.prompt import (
    NAME_INSTRUCTION,
    NOT_IN_CORPUS,
    OPEN_INSTRUCTION,
    OPTION_LETTERS,
    SHORT_ANSWER_SHOTS,
    YES_NO_INSTRUCTION,
    build_messages,
)
from rag.seams import Generator
from rag.search_index import lexical_text
from rag.types import Citation, Passage
from rag.verify import (
    CALENDAR,
    NUMBER_WORDS,
    QUESTION_WORDS,
    Rarity,
    Support,
    answered_share,
    coverage,
    key_terms,
    missing_names,
    numbers,
)
from rag.words import terms

YES_THRESHOLD = -0.6
"""Answer Yes when log P(Yes) - log P(No) of the first word is above this. Calibrated with
the default model on the 53 yes/no questions of MultiHop-RAG dev `--limit 100`: accuracy
0.64 there, against 0.57 for always Yes (AUC 0.63: the signal is weak)."""
MIN_SHARE = 0.6
"""Below this share of the question's words in the passages, a missing name declines."""
MIN_SUPPORT = 0.5
"""A short answer stands only with a supporting sentence that scores at least this..."""
MIN_QUESTION_SHARE = 0.4
"""... in a passage that holds at least this share of the question's words. A name question
needs as much of its words in all the passages found."""
SHORT_ANSWER_TOKENS = 24
MANY = re.compile(
    r"^(?:who\s+(?!is\b|was\b)\w+ed\b"
    r"|(?:which|what)\s+(?:\w+\s+)?(?!(?:is|was|has|does|says)\b)\w+[^s\W]s\b)",
    re.IGNORECASE,
)
"""A question that may want several names: "Who attended ...?", "Which officials ...?"."""
SAYING = re.compile(
    r"\bwhat\s+(?:did|does|do|has|have|will|would)\s+(?P<who>\S+(?:\s+\S+)*?)\s+"
    r"(?:say|said|tell|told|state|announce|claim|think)\b",
    re.IGNORECASE,
)
"""A question after what someone said: "What did the French foreign minister say ...?"."""
SPEECH = re.compile(
    r"\b(?:said|says|say|told|tells|stated|states|announced|claimed|added|according to"
    r"|thanked|warned|argued)\b|[\"\u201c\u201d]|(?<!\w)\u2018",
    re.IGNORECASE,
)
"""How a sentence reports speech: a verb of saying, or quotation marks."""
MEASURE = re.compile(
    r"^\s*how\s+(long|old|tall|far|wide|deep|high|big|large|heavy)\b", re.IGNORECASE
)
"""A question after a measure, whose answer need not repeat the adjective ("40 centimetres")."""
WHAT_THING = re.compile(r"^\s*what\s+(?:does|did|do|is|was|are|were|will|would|has|have)\b", re.I)
"""An open question whose answer may be a thing the passages name, not an explanation."""
NO_ANSWER = re.compile(
    r"does not say|not (?:mentioned|stated|specified|given|provided)|no information"
    r"|insufficient|cannot (?:be )?(?:answer|determin)|unknown",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reply:
    """What answering produced: the text and its citations, or an abstention and why;
    `basis` says how the short answer was decided."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    basis: str
    tokens: int = 0


def decline(reason: str, *, tokens: int = 0) -> Reply:
    return Reply(NOT_IN_CORPUS, (), True, reason, tokens)


def unsupported(
    question: str,
    kind: Kind,
    passages: Sequence[Passage],
    *,
    rarity: Rarity,
    sources: Sequence[str],
) -> str | None:
    """Why the passages cannot answer `question`, or None: a name it hinges on (see
    `key_terms`; outlet names the index holds and calendar words aside, which the filters
    handle) is in none of them, and the whole index lacks that name or, unless it is a
    yes/no question, the passages hold less than `MIN_SHARE` of the question's words. A
    yes/no question about a name the passages lack ("Does the article discuss Italy?") is
    for the model to answer, most often "No"."""
    if not passages:
        return "No passage matches the question."
    texts = [lexical_text(p.chunk) for p in passages]
    outlets = {w for source in sources for w in terms(source)}
    missing = {
        name: words
        for name in missing_names(question, texts)
        if (words := key_terms(name) - NUMBER_WORDS - CALENDAR - outlets)
    }
    if not missing:
        return None
    never = rarity("\x00")  # no chunk holds it: the rarity of a word the index lacks
    nowhere = [name for name, words in missing.items() if any(rarity(w) >= never for w in words)]
    if nowhere:
        return f"No article in the index mentions {_listed(nowhere)}."
    if kind != "yes_no" and answered_share(question, texts, rarity) < MIN_SHARE:
        return f"No passage found for the question mentions {_listed(list(missing))}."
    return None


def answer(
    question: str,
    kind: Kind,
    passages: Sequence[Passage],
    *,
    claims: Sequence[str],
    generator: Generator,
    rarity: Rarity,
    on_token: Callable[[str], None] | None = None,
) -> Reply:
    """The answer to `question` from `passages` (see the module docstring); `claims` are
    its clauses, each supported by a sentence in a yes/no answer. The model reads only the
    passages' sentences that matter to the question (`excerpts`)."""
    if kind == "yes_no":
        return _yes_no(question, passages, claims, generator, rarity, on_token)
    if kind == "name":
        return _name(question, passages, generator, rarity, on_token)
    return _open(question, passages, generator, rarity, on_token)


def _yes_no(
    question: str,
    passages: Sequence[Passage],
    claims: Sequence[str],
    generator: Generator,
    rarity: Rarity,
    on_token: Callable[[str], None] | None,
) -> Reply:
    messages = build_messages(
        question, excerpts(passages, relevance(question, passages, rarity)), YES_NO_INSTRUCTION
    )
    weights = generator.choose(messages, ("Yes", "No"))
    margin = weights["Yes"] - weights["No"]
    short = "Yes" if margin > YES_THRESHOLD else "No"
    if on_token is not None:
        on_token(short)
    found = [
        best
        for claim in (claims or [question])
        if (best := best_support(claim, passages, rarity, strict=False)) is not None
        and best[1].score > 0
    ]
    if not found:
        return decline("No passage sentence speaks to the question.")
    basis = f"log P(Yes) - log P(No) = {margin:.2f}, against a threshold of {YES_THRESHOLD:.2f}"
    return _reply(short, strongest(found, passages), passages, basis, tokens=1)


def _name(
    question: str,
    passages: Sequence[Passage],
    generator: Generator,
    rarity: Rarity,
    on_token: Callable[[str], None] | None,
) -> Reply:
    if (
        answered_share(question, [lexical_text(p.chunk) for p in passages], rarity)
        < MIN_QUESTION_SHARE
    ):
        return decline("The passages found say little of what the question asks.")
    scored = relevance(question, passages, rarity)
    shown = excerpts(passages, scored)
    sentences = [
        Sentence(p.chunk.text[s.start : s.end], p.chunk.article_id, s.score)
        for p, spans in zip(passages, scored, strict=True)
        for s in sorted(spans, key=lambda s: s.start)
    ]
    ranked = candidate_names(question, sentences)
    names = ranked[: len(OPTION_LETTERS)]
    if not names:
        return decline("The passages found for the question name no one.")
    letters = OPTION_LETTERS[: len(names)]
    options = "\n".join(f"{letter}) {n.text}" for letter, n in zip(letters, names, strict=True))
    weights = generator.choose(
        build_messages(question, shown, NAME_INSTRUCTION.format(options=options)), letters
    )
    total = sum(n.score for n in names) or 1.0
    letter = max(
        letters, key=lambda x: weights[x] + math.log(names[letters.index(x)].score / total + 1e-9)
    )
    chosen = names[letters.index(letter)].text
    if on_token is not None:
        on_token(chosen)
    found = best_support(chosen, passages, rarity, about=question)
    basis = "the names in the passages, by how they fit the question and the model: " + ", ".join(
        f"{x}) {n.text} ({n.score:.2f}, {math.exp(weights[x]):.2f})"
        for x, n in zip(letters, names, strict=True)
    )
    if found is None:
        return decline(f"No passage sentence names {chosen}.")
    if MANY.search(question):
        sentence = passages[found[0] - 1].chunk.text[found[1].start : found[1].end]
        chosen = _enumeration(sentence, chosen, [n.text for n in ranked]) or chosen
    return _reply(chosen, [found], passages, basis, tokens=1)


def _enumeration(sentence: str, name: str, names: Sequence[str]) -> str | None:
    """The list of `names` that `name` is part of in `sentence`, or None when it stands
    alone: "the UK, France, Germany, and Ukraine" gives "UK, France, Germany and Ukraine",
    and "Secretary of State Marco Rubio and special envoy Steve Witkoff" (a role of up to
    two words before a name) gives "Marco Rubio and Steve Witkoff"."""
    one = r"\b(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b"
    role = r"(?:[a-z]+(?<!ing)(?<!ed)\s+){0,2}"
    for match in re.finditer(rf"{one}(?:(?:,\s*|,?\s+and\s+)(?:the\s+)?{role}{one})+", sentence):
        listed: list[str] = re.findall(one, match.group(0))
        if name in listed:
            return ", ".join(listed[:-1]) + " and " + listed[-1]
    return None


def _open(
    question: str,
    passages: Sequence[Passage],
    generator: Generator,
    rarity: Rarity,
    on_token: Callable[[str], None] | None,
) -> Reply:
    pieces: list[str] = []
    for piece in generator.stream(
        build_messages(
            question,
            excerpts(passages, relevance(question, passages, rarity)),
            OPEN_INSTRUCTION,
            shots=SHORT_ANSWER_SHOTS,
        ),
        max_tokens=SHORT_ANSWER_TOKENS,
        stop=["\n"],
    ):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
    short = _clean("".join(pieces))
    if (measure := MEASURE.match(question)) is not None:  # "40 centimetres long"
        short = re.sub(rf"\s+{measure.group(1)}$", "", short, flags=re.IGNORECASE)
    basis = f"the model's short answer: {short!r}"
    if not short or NO_ANSWER.search(short):
        return decline("The model found no answer in the passages.", tokens=len(pieces))
    if not numbers(short) - numbers(question) and set(terms(short)) <= set(terms(question)):
        if WHAT_THING.match(question) and not SAYING.search(question):
            # "What does Ukraine refuse to recognize as Russian territory?" drafted as
            # "Russian territory": the thing asked for may be a name the passages spell out.
            return _name(question, passages, generator, rarity, on_token)
        reason = f"The draft answer {short!r} only repeats the question."
        return decline(reason, tokens=len(pieces))
    found = best_support(short, passages, rarity, about=question)
    if found is not None:
        cited = passages[found[0] - 1].chunk
        sentence = cited.text[found[1].start : found[1].end]
        if answered_share(
            question, [f"{cited.title} {cited.text}"], rarity
        ) < MIN_QUESTION_SHARE or not _reports_speech(question, sentence, rarity):
            found = None
    if found is None or found[1].score < MIN_SUPPORT:
        reason = f"No passage sentence supports the draft answer {short!r}."
        return decline(reason, tokens=len(pieces))
    return _reply(short, [found], passages, basis, tokens=len(pieces))


def _reports_speech(question: str, sentence: str, rarity: Rarity) -> bool:
    """Whether `sentence` can answer `question` if it asks what someone said: it must
    report speech (a verb of saying or a quotation), name the speaker the question names,
    and hold at least half of the rest of the question's words. True for other questions."""
    asked = SAYING.search(question)
    if asked is None:
        return True
    held = set(terms(sentence))
    speaker, topic = asked.group("who"), question[asked.end() :]
    return (
        (SPEECH.search(sentence) is not None)
        and key_terms(speaker) <= held
        and coverage(set(terms(topic)) - QUESTION_WORDS, held, rarity) >= 0.5
    )


def _reply(
    short: str,
    found: Sequence[tuple[int, Support]],
    passages: Sequence[Passage],
    basis: str,
    *,
    tokens: int,
) -> Reply:
    """The short answer, then each supporting sentence as the passage writes it, with [n]."""
    parts = [short.rstrip(".") + "."]
    citations = []
    for number, span in found:
        sentence = " ".join(passages[number - 1].chunk.text[span.start : span.end].split())
        end = len(sentence.rstrip(".!?"))
        parts.append(f"{sentence[:end]} [{number}]{sentence[end:] or '.'}")
        citations.append(Citation(number, passages[number - 1], span.start, span.end, span.score))
    return Reply(" ".join(parts), tuple(citations), False, basis, tokens)


def _clean(draft: str) -> str:
    """The model's short answer without labels, markers, quotes or a final stop."""
    text = draft.strip().splitlines()[0] if draft.strip() else ""
    text = re.sub(r"^(?:short answer|answer)\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", text)
    return text.strip(" \"'\u201c\u201d\u2018\u2019").rstrip(".").strip()


def _listed(names: Sequence[str]) -> str:
    shown = [POSSESSIVE.sub("", n) for n in names]
    return " or ".join(dict.fromkeys(shown))
