"""The names the passages spell out: the candidates a name question is answered from.

A name is a run of capitalized words ("Sam Bankman-Fried", "Federal Reserve", "Bank of
England"). A capitalized first word that the passages also write in lower case ("Loading
Google", "Maybe Apple") only starts a sentence, and is left off; so is a one-word name
never seen but at the start of a sentence ("Officials met ..."). A one-word name that ends
a longer one ("Altman" in "Sam Altman") counts for the longest such name. Names the question
itself uses, or a word of which it names ("Steve Witkoff" when asked about Witkoff), are not
candidates: the answer is what the question does not already say.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from rag.verify import CALENDAR
from rag.words import STOPWORDS

NAME = re.compile(r"\b[A-Z][\w&'\u2019-]*(?:[ ](?:of[ ]|de[ ]|for[ ])?[A-Z][\w&'\u2019-]*)*")
POSSESSIVE = re.compile(r"['\u2019]s?$")
POSSESSIVE_BREAK = re.compile(r"['\u2019]s? ")
"""Where one name owns the next ("OpenAI's ChatGPT"): two names."""


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
    for sentence in sentences:
        for match in NAME.finditer(sentence.text):
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
                    if not starts or " " in name or not part.startswith(name):
                        inside.add(name)
    for name in set(mentions) - inside:  # "Officials met ...": a capital, not a name
        del mentions[name], best[name]
    for short in [n for n in mentions if " " not in n]:
        longer = [n for n in mentions if n.endswith(" " + short) and len(n.split()) <= 3]
        if longer:
            full = max(longer, key=lambda n: mentions[n])
            for article, weight in best.pop(short).items():
                best[full][article] = max(best[full].get(article, 0.0), weight)
            mentions[full] += mentions.pop(short)
    person = PERSON.search(question) is not None
    names = [
        Name(
            n,
            sum(best[n].values()) * (ACRONYM_WEIGHT if person and n.isupper() else 1),
            mentions[n],
        )
        for n in mentions
    ]
    return sorted(names, key=lambda n: (-n.score, -n.mentions))


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
    name = " ".join(words)
    return name if len(name) > 1 and name.lower() not in STOPWORDS | CALENDAR else ""
