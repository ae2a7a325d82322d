"""``flowalerts run --redis URL --cleanup RUN_ID``: its usage errors (the
cleanup itself runs in tests/integration/test_distributed_faults.py)."""

from __future__ import annotations

import pytest

from flowalerts.cli.main import main


def test_cleanup_wants_a_run_id(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--redis", "redis://127.0.0.1:1/0", "--cleanup", "run*"]) == 2
    assert capsys.readouterr().err == "flowalerts: error: --cleanup: 'run*' is no run id (12 hex digits)\n"


def test_cleanup_wants_a_redis(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                               tmp_path: object) -> None:
    monkeypatch.chdir(str(tmp_path))  # no ./slips.yaml with a redis.url
    assert main(["run", "--cleanup", "0123456789ab"]) == 2
    assert capsys.readouterr().err == (
        "flowalerts: error: --cleanup needs a Redis: --redis URL (or redis.url in the config)\n"
    )


def test_an_unreachable_redis_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--redis", "redis://127.0.0.1:1/0", "--cleanup", "0123456789ab"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flowalerts: error: cannot connect to Redis at redis://127.0.0.1:1/0") and err.count("\n") == 1


def test_a_run_without_cleanup_still_wants_its_input_and_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-o", "out"]) == 2
    assert capsys.readouterr().err == "flowalerts run: error: the following arguments are required: -f/--file\n"
