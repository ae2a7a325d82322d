"""Shared pytest fixtures and options.

* ``datasets``: the shared Zeek folders in ``../shared/datasets/slips``
  (beside the clone, or ``$FLOWALERTS_DATASETS``). Without them a test skips with the reason; under
  ``CI=true`` it fails instead (CI must never pass without its key suites).
* ``--regen-golden``: rewrite the golden files (``tests/golden/``) from the
  current code instead of comparing; review the diff before committing.
* ``FLOWALERTS_MUTATE=<detection id>:<raise|silent>`` (used by
  ``scripts/check_mutations.py``): break one detection on purpose - every
  ``handle`` raises, or it reports nothing - to prove the tests notice.
"""

from __future__ import annotations

import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
# The shared folder beside the clone; $FLOWALERTS_SHARED (or, for the datasets
# alone, $FLOWALERTS_DATASETS) points elsewhere, e.g. from a git worktree.
SHARED = pathlib.Path(os.environ.get("FLOWALERTS_SHARED") or REPO.parent / "shared")
DATASETS = pathlib.Path(os.environ.get("FLOWALERTS_DATASETS") or SHARED / "datasets" / "slips")
GOLDEN = REPO / "tests" / "golden"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/ from the current code")


def need(condition: bool, reason: str) -> None:
    """Skip when a dependency is missing - or fail, under CI=true."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def datasets() -> pathlib.Path:
    need(DATASETS.is_dir(), f"shared datasets not found at {DATASETS} (they live beside the clone in ../shared)")
    return DATASETS


@pytest.fixture(scope="session")
def regen_golden(pytestconfig: pytest.Config) -> bool:
    return bool(pytestconfig.getoption("--regen-golden"))


def _apply_mutation(spec: str) -> None:
    from flowalerts.modules.flow_alerts.detection import load_components

    ident, _, mode = spec.partition(":")
    detections, _ = load_components()
    cls = detections.get(ident)
    if cls is None:
        raise pytest.UsageError(f"FLOWALERTS_MUTATE: no detection {ident!r}")
    if mode == "raise":

        def broken(self, *args, **kwargs):
            raise RuntimeError(f"mutation: {ident} broken on purpose")

        for hook in ("handle", "on_timer", "report_tally"):
            if hook in vars(cls) or hook == "handle":
                setattr(cls, hook, broken)
    elif mode == "silent":
        cls.report = lambda self, *args, **kwargs: None
        cls.report_linked = lambda self, *args, **kwargs: []
    else:
        raise pytest.UsageError(f"FLOWALERTS_MUTATE: mode must be raise or silent, not {mode!r}")


def pytest_configure(config: pytest.Config) -> None:
    spec = os.environ.get("FLOWALERTS_MUTATE")
    if spec:
        _apply_mutation(spec)
