"""The `[n]` markers by which an answer cites its passages (numbered from 1)."""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d{1,6}(?:\s*[,;]\s*\d{1,6})*)\]")
"""[1], [1, 2], [1;2] and [1][2] all count. A number of more digits cites no passage (and
`int` refuses one of over 4,300 digits): "[12345678]" is text."""


def parse_markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance, without repeats."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)
