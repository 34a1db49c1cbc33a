"""The `[n]` markers by which an answer cites its passages (numbered from 1)."""

from __future__ import annotations

import re

# [1], [1, 2], [1;2] and [1][2] all count.
MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")


def parse_markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance, without repeats."""
    seen: dict[int, None] = {}
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            seen.setdefault(int(part), None)
    return list(seen)
