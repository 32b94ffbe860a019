"""The one kind of error a user can fix, and how a library's error is told in one line (no imports beyond the
standard library: every part of pixelsense may use this)."""

from __future__ import annotations


class PixelsenseError(Exception):
    """A problem the user can fix. Its message is one sentence: what went wrong, and what to do."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """The line of a library's message that says what happened (a heading that ends in ":" is skipped), or
    its type when it has none; a long line keeps its start and its end, where the reason usually is."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    line = next((line for line in lines if not line.endswith(":")), lines[0] if lines else type(err).__name__)
    return line if len(line) <= limit else f"{line[: limit // 2 - 10]} … {line[-(limit // 2) :]}"
