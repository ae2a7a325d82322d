"""Paths shared by tests (importable because pytest puts tests/ on sys.path)."""

import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
