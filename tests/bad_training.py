"""Rows of tests/test_bad_inputs.py: training."""

from __future__ import annotations

from badinput import Bad

ROWS: list[Bad] = []
