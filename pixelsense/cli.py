"""Command-line entry points: parse, call the library, turn user errors into one clear line."""

from __future__ import annotations

import sys

from pixelsense.config import ConfigError, parse_config
from pixelsense.sources import DataError


def fit_main(argv: list[str] | None = None) -> int:
    """``python scripts/fit.py``: returns the exit code (0 done, 2 a problem the user can fix)."""
    from pixelsense.train import ResumeError, fit

    args = sys.argv[1:] if argv is None else argv
    try:
        fit(parse_config(args), command=" ".join(["python scripts/fit.py", *args]))
    except (ConfigError, DataError, ResumeError) as err:
        print(f"fit.py: error: {err}", file=sys.stderr)
        return 2
    return 0
