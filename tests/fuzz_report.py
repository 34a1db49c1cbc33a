"""The harness of tests/test_fuzz.py: the inputs its targets draw from (text, files in many
encodings, documents of every article format), how a target runs (a fixed number of examples,
more with --run-slow, reproducible, writing nothing into the checkout, each under a deadline
and a hard time limit) and the table of what ran, shown at the end of the run."""

from __future__ import annotations

import codecs
import html
import json
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (its Unicode tables, constants read from the code) in .hypothesis/
# of the working directory, even without an example database: not in the checkout.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "newsrag-hypothesis")

MB = 1 << 20
"""An input this long (characters or bytes) is huge: it has a deadline and a column of its own."""
EXAMPLES, HUGE = (40, 200), (2, 4)
"""Examples per target without and with --run-slow: drawn, and huge (besides the known ones)."""
DEADLINE, HUGE_DEADLINE = 10.0, 30.0
"""Seconds an example may take here (2 slow cores, other work beside): trafilatura takes 4 s
on a megabyte of HTML, verifying a claim of 200,000 words 9 s."""
HARD_LIMIT_SECONDS = 60.0
"""An example still running after this long is stopped (`Hang`): a deadline is only checked
once an example ends, and one that loops for ever never would."""
PLUGIN = "newsrag-fuzz-report"


@dataclass
class Tally:
    """What one target ran: examples, those with a huge input, those that broke the
    property (a stray exception, an error not naming its input, a deadline or hang), and
    the seconds they took."""

    examples: int = 0
    huge: int = 0
    unexpected: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_huge: float = 0.0


TALLIES: dict[str, Tally] = {}


class Hang(BaseException):
    """An example outran `HARD_LIMIT_SECONDS`. Not an `Exception`, so that no
    `except Exception` in the code under test can swallow it."""


@contextmanager
def hard_limit(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the code running when `seconds` have passed (a SIGALRM timer)."""

    def alarm(_signum: int, _frame: FrameType | None) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def size(value: object) -> int:
    """The length of the longest text or bytes in `value` (or in the tuples and lists in it)."""
    if isinstance(value, tuple | list):
        return max((size(v) for v in value), default=0)
    return len(value) if isinstance(value, str | bytes) else 0


def fuzz(
    config: pytest.Config,
    target: str,
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], object],
    *,
    huge: bool = False,
    known: Sequence[Any] = (),
) -> None:
    """Run `check` on the `known` inputs (of bugs once found), then on `EXAMPLES` (or, when
    the strategy draws `huge` ones, `HUGE`) inputs from `strategy`, counting them under
    `target`. An input fails when `check` raises or takes longer than its deadline."""
    tally = TALLIES.setdefault(target, Tally())
    count = (HUGE if huge else EXAMPLES)[bool(config.getoption("--run-slow"))]
    _register(config)

    def run(drawn: Any) -> None:
        big = size(drawn) >= MB
        deadline = HUGE_DEADLINE if big else DEADLINE
        tally.examples += 1
        tally.huge += big
        started = time.perf_counter()
        try:
            with hard_limit(HARD_LIMIT_SECONDS):
                check(drawn)
            took = time.perf_counter() - started
            # Hypothesis would fail it too, but this way it is counted.
            assert took <= deadline, f"{target}: took {took:.1f} s, over the {deadline:g} s"
        except Hang as exc:
            tally.unexpected += 1
            raise Hang(f"{target}: {exc}, on an input of {size(drawn):,} characters") from None
        except BaseException:
            tally.unexpected += 1
            raise
        finally:
            took = time.perf_counter() - started
            tally.seconds += took
            if big:
                tally.slowest_huge = max(tally.slowest_huge, took)
            else:
                tally.slowest = max(tally.slowest, took)

    test = given(strategy)(run)
    for case in reversed(known):
        test = example(case)(test)
    settings(
        max_examples=count,
        deadline=timedelta(seconds=HUGE_DEADLINE if huge or known else DEADLINE),
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            HealthCheck.filter_too_much,
        ],
    )(test)()


class Report:
    """Prints `TALLIES` in pytest's terminal summary."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not TALLIES:
            return
        write = terminalreporter.write_line
        terminalreporter.section("fuzzing: examples run per target")
        header = ("target", "examples", ">= 1 MB", "unexpected", "slowest s", "(1 MB)", "total s")
        write("{:<17} {:>8} {:>8} {:>10} {:>9} {:>7} {:>7}".format(*header))
        for name, t in [*TALLIES.items(), ("all", _total())]:
            write(
                f"{name:<17} {t.examples:>8,} {t.huge:>8,} {t.unexpected:>10,} "
                f"{t.slowest:>9.2f} {t.slowest_huge:>7.2f} {t.seconds:>7.1f}"
            )


def _total() -> Tally:
    tallies = TALLIES.values()
    return Tally(
        sum(t.examples for t in tallies),
        sum(t.huge for t in tallies),
        sum(t.unexpected for t in tallies),
        sum(t.seconds for t in tallies),
        max((t.slowest for t in tallies), default=0.0),
        max((t.slowest_huge for t in tallies), default=0.0),
    )


def _register(config: pytest.Config) -> None:
    """Plug `Report` into this pytest run (a test module cannot hold hooks itself)."""
    if config.pluginmanager.get_plugin(PLUGIN) is None:
        config.pluginmanager.register(Report(), PLUGIN)


# Text: news words, dates, markers, breaks; odd spaces and characters; lone surrogates.
TOKENS = ["London", "TechCrunch", "The Verge", "Fortune", "said", "Okafor", "Sam Altman", "Mr."]
TOKENS += ["U.S.", "2,400", "3.1", "million", "[1]", "[2, 3]", "[1;2]", "[", "]", "[1234567]"]
TOKENS += ["October 7, 2023", "7 October 2023", "2023-10-07", "February 30, 2023", "today"]
TOKENS += ["last week", "this month", "yesterday", "past year", "the past 3 days", "by"]
TOKENS += ["the last 999 weeks", "in October 2023", "before January 1900", "as of 1 May 2025"]
TOKENS += ["by mid-March", "according to", "and", "while", "as well as", ",", ";", ":", "."]
TOKENS += ["!", "?", "'", '"', "(", ")", "-", "'s", "\u2019s", "\u201d", "\n---\n", "...", "# "]
SPACES = [" ", "  ", "\n", "\r\n", "\r", "\t", "\xa0", "\u2028", "\x85", " " * 40]
ODD = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\u200b", "\u202e", "\ufeff"]
ODD += ["\ufffd", "\uffff", "\U0001f600", "\u0663", "\xdf", "\u0130", "e\u0301"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udc80"]


def texts(*, surrogates: bool = True, parts: int = 30) -> st.SearchStrategy[str]:
    pieces = [st.sampled_from(TOKENS), st.sampled_from(SPACES), st.sampled_from(ODD)]
    pieces += [st.text(max_size=8), st.integers(4000, 5000).map(lambda n: "[" + "9" * n + "]")]
    pieces += [st.sampled_from(SURROGATES)] if surrogates else []
    return st.lists(st.one_of(pieces), max_size=parts).map("".join)


def huge(around: Callable[[str], str] = str) -> st.SearchStrategy[str]:
    """`around` a text of a megabyte or more: a piece repeated (one line, when the piece is)."""
    pieces = [st.sampled_from(TOKENS + ODD), st.sampled_from(SPACES), texts(parts=6)]
    pieces += [st.builds(str.__add__, st.sampled_from(TOKENS), st.sampled_from(SPACES))]
    return st.one_of(pieces).filter(bool).map(lambda p: around(p * (MB // len(p) + 1)))


# Files: a document in some encoding, bytes inserted or cut off; or random bytes.
LOSSLESS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
ENCODINGS = [*LOSSLESS, "cp1252", "latin-1"]
BYTES = [b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80", b"\x1b", b"\r", codecs.BOM_UTF8]


def encode(text: str, encoding: str) -> bytes:
    """`text` in `encoding`: UTF-16 LE and BE after their BOM, a lone surrogate as the bytes
    it would have (invalid UTF-8 or UTF-16), what cp1252 and Latin-1 lack as "?"."""
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    return bom + text.encode(encoding, "surrogatepass" if encoding in LOSSLESS else "replace")


def mutate(data: bytes, edits: list[tuple[float, bytes]], cut: float | None) -> bytes:
    for at, inserted in edits:
        data = data[: int(at * len(data))] + inserted + data[int(at * len(data)) :]
    return data if cut is None else data[: int(cut * len(data))]


def files(documents: st.SearchStrategy[str], *, mutated: bool = True) -> st.SearchStrategy[bytes]:
    encoded = st.builds(encode, documents, st.sampled_from(ENCODINGS))
    if not mutated:
        return encoded
    edits = st.lists(st.tuples(st.floats(0, 1), st.sampled_from(BYTES)), min_size=1, max_size=3)
    changed = st.builds(mutate, encoded, edits, st.none() | st.floats(0, 1))
    return st.one_of(encoded, changed, st.binary(max_size=800))


# Article formats.
FIELDS = st.sampled_from(["title", "body", "source", "author", "url", "published_at"])
DATES = ["2025-04-23", "2025-04-23T10:00:00+02:00", "0001-01-01T00:00:00+01:00", "2025-02-30"]
DATES += ["9999-12-31T23:59:59-01:00", "2025-W17-3", "last Tuesday", "", "\x00"]
ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=9))])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts(parts=6))
YAML = st.recursive(
    SCALARS | st.dates() | st.datetimes(timezones=ZONES),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(texts(parts=2), kids, max_size=3),
    max_leaves=8,
)
JSON = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(texts(parts=2), kids, max_size=3),
    max_leaves=10,
)
RECORDS = st.dictionaries(FIELDS | texts(parts=2), JSON | st.sampled_from(DATES), max_size=7)
DEPTHS = st.sampled_from([200, 900, 1500, 5000, 20_000])  # Python recurses some 1,000 deep
LAUGHS = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\ntitle: &t [*c, *c]\n"


def deep_json(depth: int, kind: str) -> str:
    """An article with a field nested `depth` levels deep."""
    inner = "[" * depth + "]" * depth if kind == "[" else '{"a":' * depth + "1" + "}" * depth
    return '{"title": "T", "body": "B", "deep": ' + inner + "}"


def dumps(value: object, ascii: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii)


def fenced(front: str, body: str, newline: str = "\n", closed: bool = True) -> str:
    return f"---{newline}{front}{newline}{'---' if closed else ''}{newline}{body}"


FRONT = st.one_of(
    st.dictionaries(FIELDS, YAML, max_size=6).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    texts(),
    DEPTHS.map(lambda n: "title: " + "[" * n + "]" * n),
    st.sampled_from([100, 600]).map(lambda n: "".join(f"{'  ' * i}k{i}:\n" for i in range(n))),
    st.just(LAUGHS),
)
NEWLINES = st.sampled_from(["\n", "\r\n", "\r", "\u2028", "\x85", "\n\n"])
MARKDOWN = st.builds(fenced, FRONT, texts(), NEWLINES, st.booleans()) | texts()
JSON_DOCS = st.one_of(
    st.builds(dumps, RECORDS | st.lists(RECORDS, max_size=4) | JSON, st.booleans()),
    st.builds(deep_json, DEPTHS, st.sampled_from("[{")),
    st.integers(4000, 6000).map(lambda n: '{"title": "T", "body": "B", "n": ' + "7" * n + "}"),
    texts(),
)
JSONL = st.builds(lambda lines, nl: nl.join(lines), st.lists(JSON_DOCS, max_size=6), NEWLINES)
MARKUP = ["<", ">", "</", "<!--", "-->", "<![CDATA[", "]]>", "&amp;", "&#0;", "&#xD800;"]
MARKUP += ["&#1114112;", "&#x1F600;", "&nbsp;", "<br>", "<p>", "</p>", "<body>", "</div>"]
MARKUP += ["<meta charset='utf-16'>", "<?xml version='1.0' encoding='utf-16'?>", "<script>"]
MARKUP += ['<meta property="article:published_time" content="0001-01-01T00:00:00+01:00">']
MARKUP += ['<meta name="author" content="&#xD800;">', '<link rel="canonical" href="http://[">']
SOUP = st.lists(st.sampled_from(MARKUP) | texts(parts=4), max_size=14).map("".join)
ESCAPED = st.one_of(texts(), texts().map(html.escape), SOUP.map(html.escape), SOUP)


def page(title: str, paragraphs: list[str], depth: int = 0) -> str:
    text = "<div>" * depth + "".join(f"<p>{p}</p>" for p in paragraphs) + "</div>" * depth
    return f"<html><head><title>{title}</title></head><body><article>{text}</article></body></html>"


FEED_DATES = ["Mon, 03 Mar 2025 10:00:00 +0100", "Mon, 03 Mar 99999 10:00:00 +0100", ""]
FEED_DATES += ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "2025-02-30T00:00:00Z"]
FEED_DATES += ["Sat, 01 Jan 0001 00:00:00 +1400", "yesterday"]
ENTRIES = st.lists(st.tuples(ESCAPED, ESCAPED, st.sampled_from(FEED_DATES), ESCAPED), max_size=4)


def feed(kind: str, title: str, entries: list[tuple[str, str, str, str]]) -> str:
    if kind == "rss":
        items = "".join(
            f"<item><title>{t}</title><link>{link}</link><pubDate>{day}</pubDate>"
            f"<description>{body}</description></item>"
            for t, link, day, body in entries
        )
        return f'<rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'
    items = "".join(
        f'<entry><title>{t}</title><link href="{link}"/><updated>{day}</updated>'
        f'<content type="html">{body}</content></entry>'
        for t, link, day, body in entries
    )
    return f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>{items}</feed>'


def entry(body: str, day: str = "") -> str:
    return feed("rss", "Wire", [("Title", "https://wire.example/a", day, body)])


FEEDS = st.one_of(
    st.builds(feed, st.sampled_from(["rss", "atom"]), ESCAPED, ENTRIES),
    DEPTHS.map(lambda n: "<rss><channel>" + "<x>" * n + "</x>" * n + "</channel></rss>"),
    SOUP,
)
HTML = SOUP | st.builds(page, ESCAPED, st.lists(ESCAPED, max_size=5), st.integers(0, 3000))
DOCUMENTS = {"md": MARKDOWN, "json": JSON_DOCS, "jsonl": JSONL, "html": HTML, "rss": FEEDS}
HUGE_DOCS = {
    "md": huge(lambda text: fenced(f"title: {text}", "Body.")) | huge(lambda t: fenced("a: 1", t)),
    "json": huge(lambda text: dumps({"title": "T", "body": text}, ascii=False)) | huge(),
    "jsonl": huge(lambda text: dumps({"title": "T", "body": text})) | huge(),
    "html": huge(lambda text: page("T", [text])),
    "rss": huge(entry),
}
