from __future__ import annotations

import pytest

from rag.cite import parse_markers


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("They met [1].", [1]),
        ("A [2]. B [1][2].", [2, 1]),
        ("A [1, 3]; B [3;2].", [1, 3, 2]),
        ("No markers.", []),
        ("Array [a] and [ 1 ] are not markers.", []),
    ],
)
def test_parse_markers(text: str, numbers: list[int]) -> None:
    assert parse_markers(text) == numbers
