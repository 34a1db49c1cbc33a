"""The names the passages spell out: the candidates a name question is answered from.

A name is a run of capitalized words ("Sam Bankman-Fried", "Federal Reserve", "Bank of
England"). A capitalized first word that the passages also write in lower case ("Loading
Google", "Maybe Apple") only starts a sentence, and is left off; so is a one-word name
never seen but at the start of a sentence ("Officials met ..."). A one-word name that ends
a longer one ("Altman" in "Sam Altman") or shortens its first word ("Fed" for "Federal
Reserve") counts for the longer name. Names the question itself uses, or a word of which it
names ("Steve Witkoff" when asked about Witkoff), are not candidates: the answer is what the
question does not already say.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rag.verify import CALENDAR
from rag.words import STOPWORDS, stem, terms

NAME = re.compile(r"\b[A-Z][\w&'\u2019-]*(?:[ ](?:of[ ]|de[ ]|for[ ])?[A-Z][\w&'\u2019-]*)*")
POSSESSIVE = re.compile(r"['\u2019]s?$")
POSSESSIVE_BREAK = re.compile(r"['\u2019]s? ")
"""Where one name owns the next ("OpenAI's ChatGPT"): two names."""


TITLES = frozenset(
    [
        "president",
        "minister",
        "secretary",
        "chancellor",
        "mayor",
        "senator",
        "governor",
        "judge",
        "justice",
        "general",
        "chair",
        "chairman",
        "chairwoman",
        "ceo",
        "director",
        "ambassador",
        "commissioner",
        "envoy",
        "spokesman",
        "spokeswoman",
        "spokesperson",
        "officer",
        "coach",
        "captain",
        "dr",
        "mr",
        "mrs",
        "ms",
        "prof",
        "professor",
        "sen",
        "rep",
        "gen",
        "pope",
        "founder",
    ]
)
"""Words of a title that news writes before a person's name ("Secretary of State Marco
Rubio", "Mayor Ines Okafor"): the answer is the person, "Marco Rubio"."""
TYPE_NOUN = re.compile(r"^\s*(?i:which|what)\s+(?:[A-Z][\w.]*\s+)*(?P<noun>[a-z]+)\b")
"""The kind of thing a question asks for: "foundry" in "Which foundry supplied ...?"."""
TYPE_WEIGHT = 2.0
"""How much more a name counts when a sentence calls it what the question asks for (see
`_near`), or it is one ("National Reading Prize", asked what prize)."""
PERSON = re.compile(r"^\s*who\b|\b(?:individual|person|figure)\b", re.IGNORECASE)
"""A question after a person, whom an acronym ("FTX", "SEC") hardly names."""
ACRONYM_WEIGHT = 0.5


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage, its article, and how much it matters to the question."""

    text: str
    article_id: str
    weight: float


@dataclass(frozen=True)
class Name:
    """A name, and how strongly the sentences that mention it speak to the question: the
    sum over articles of the weight of its best sentence in each."""

    text: str
    score: float
    mentions: int


def candidate_names(question: str, sentences: Sequence[Sentence]) -> list[Name]:
    """The names in `sentences` that `question` does not use, best first: named in the
    sentences that matter most, by the most articles."""
    lowercase = {w for s in sentences for w in re.findall(r"\b[a-z][\w-]*", s.text)}
    asked = {w.lower() for w in re.findall(r"[\w-]+", question)}
    named = {w.lower() for w in re.findall(r"(?<!^)\b[A-Z][\w-]+", question.strip())}
    best: dict[str, dict[str, float]] = defaultdict(dict)
    mentions: Counter[str] = Counter()
    inside: set[str] = set()  # names seen other than as a sentence's first word
    typed: set[str] = set()  # names a sentence calls what the question asks for
    noun = _type_noun(question)
    for sentence in sentences:
        for match in NAME.finditer(sentence.text):
            near = _near(sentence.text, match.start(), match.end()) if noun else set()
            for part in POSSESSIVE_BREAK.split(match.group(0)):
                head, _, tail = part.partition(" of ")
                if tail and all(w.lower() in asked for w in tail.split()):
                    part = head  # "Ines Okafor of Port Alder", asked about Port Alder
                starts = not sentence.text[: match.start()].strip(" \"'\u201c\u2018([-\u2013\u2014")
                name = _clean(part, (lowercase if starts else set()) | asked, starts=starts)
                words = [w.lower() for w in re.findall(r"[\w-]+", name)]
                if name and not set(words) <= asked and not set(words) & named:
                    seen = best[name].get(sentence.article_id, 0.0)
                    best[name][sentence.article_id] = max(seen, sentence.weight)
                    mentions[name] += 1
                    if noun and noun in near | set(terms(name)):
                        typed.add(name)
                    if not starts or " " in name or not part.startswith(name):
                        inside.add(name)
    for name in set(mentions) - inside:  # "Officials met ...": a capital, not a name
        del mentions[name], best[name]
    for short in [n for n in mentions if " " not in n]:
        longer = [n for n in mentions if _shortens(short, n)]
        if longer:
            full = max(longer, key=lambda n: mentions[n])
            for article, weight in best.pop(short).items():
                best[full][article] = max(best[full].get(article, 0.0), weight)
            mentions[full] += mentions.pop(short)
            if short in typed:
                typed.add(full)
    person = PERSON.search(question) is not None
    names = [
        Name(
            n,
            sum(best[n].values())
            * (ACRONYM_WEIGHT if person and n.isupper() else 1)
            * (TYPE_WEIGHT if n in typed else 1),
            mentions[n],
        )
        for n in mentions
    ]
    return sorted(names, key=lambda n: (-n.score, -n.mentions))


def _shortens(short: str, name: str) -> bool:
    """Whether `short` is what news calls `name` for short: its last word ("Altman" for "Sam
    Altman"), or the start of its first ("Fed" for "Federal Reserve")."""
    words = name.split()
    return 1 < len(words) <= 3 and (
        words[-1] == short or (len(short) >= 3 and words[0].startswith(short) and words[0] != short)
    )


def _type_noun(question: str) -> str | None:
    """The stem of the kind of thing `question` asks for ("foundry" in "Which foundry
    supplied ...?"), or None."""
    match = TYPE_NOUN.match(question)
    if match is None:
        return None
    found = terms(match.group("noun"))
    return found[0] if found else None


def _near(text: str, start: int, end: int) -> set[str]:
    """The stems of the word just before text[start:end] and of the two just after it, an
    article and punctuation skipped: "baker Tomas Reyes", "the Lenz foundry", "Tomas
    Reyes, a local baker", not "officials from the UK", "Ana Ruiz and officials" nor "parent
    company Alphabet"."""
    words = []
    before = re.search(r"(?:^|\b([\w-]+)\s+)([\w-]+)[\s,]*$", text[:start])
    if before and not (before[1] and before[1].islower() and before[1] not in STOPWORDS):
        words.append(before[2])  # not "parent company Alphabet": a kind of company
    after = re.match(r"[\s,]*(?:(?:a|an|the)\s+)?([\w-]+)?\s*([\w-]+)?", text[end:])
    if after and after[1] and after[1].lower() not in STOPWORDS:  # not "and officials"
        words += [after[1], after[2] or ""]
    return {stem(w.lower()) for w in words if w}


def _clean(name: str, common: set[str], *, starts: bool) -> str:
    """`name` without a possessive, and without leading words that are `common` (written in
    lower case elsewhere, at the start of a sentence: "Loading Google"; or used by the
    question: "Mayor" in "Mayor Ines Okafor", asked who the mayor is), nor, when `starts`
    (the name opens its sentence), an adverb or participle ("Reportedly Apple")."""
    words = POSSESSIVE.sub("", name.strip("-'\u2019")).split(" ")
    while words and (
        words[0].lower() in STOPWORDS | CALENDAR
        or words[0].lower() in common
        or (starts and words[0].endswith(("ing", "ly", "ed")))
    ):
        words = words[1:]
    name = " ".join(_untitled(words))
    return name if len(name) > 1 and name.lower() not in STOPWORDS | CALENDAR else ""


def _untitled(words: list[str]) -> list[str]:
    """`words` without the title before a person's name ("US Secretary of State Marco
    Rubio": "Marco Rubio"), when two or more capitalized words follow it."""
    titled = [i for i, w in enumerate(words) if w.lower().rstrip(".") in TITLES]
    if not titled:
        return words
    rest = words[titled[-1] + 1 :]
    if rest[:1] == ["of"]:
        rest = rest[2:]
    return rest if len(rest) >= 2 and all(w[:1].isupper() for w in rest) else words
