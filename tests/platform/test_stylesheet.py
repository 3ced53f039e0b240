"""The staff style sheet parses as written: every block it opens it closes. One missing brace
(a merge that kept both sides of a conflict, say) silently moves every later rule into the
block before it, e.g. a phone-only media query, and the desktop pages lose their styles."""

from __future__ import annotations

from pathlib import Path

import tierline

STYLESHEET = Path(tierline.__file__).parent / "platform" / "static" / "tierline.css"


def test_every_block_is_closed_where_the_next_comment_starts() -> None:
    depth = 0
    for number, line in enumerate(STYLESHEET.read_text().splitlines(), start=1):
        if line.startswith("/*"):
            assert depth == 0, f"line {number} starts a new section inside an open block"
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"line {number} closes a block that was never opened"
    assert depth == 0
