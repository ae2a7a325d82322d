"""ModuleWorker's state write-behind (issue 6): not mirrored into the embedded,
in-process fakeredis; mirrored to a real Redis every FLUSH_EVERY_RECORDS
records and at end of input."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest

from flowalerts import worker as worker_module
from flowalerts.bus import BATCH, Topic
from flowalerts.codec import encode_batch
from flowalerts.config import Config
from flowalerts.knowledge import Knowledge
from flowalerts.lookups import NullLookups
from flowalerts.messages import INPUT_END
from flowalerts.profiler import Profiler
from flowalerts.runner import build_module
from flowalerts.state import State, StateMirror
from flowalerts.worker import ModuleWorker
from tests.harness import T0, dns

PREFIX = "fa:workertest"


class ServerLikeRedis:
    """Stands in for a redis-py client of a real server (not in-process)."""

    def __init__(self) -> None:
        self._inner = fakeredis.FakeRedis()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _setup(client: Any) -> tuple[ModuleWorker, Topic, State]:
    config = Config()
    state = State(mirror=StateMirror(client, PREFIX))
    module = build_module(config, state, Knowledge.empty(), NullLookups(), emit=lambda text: None)
    records = Topic(client, "records", "streams", PREFIX, 100)
    evidence = Topic(client, "evidence", "streams", PREFIX, 100)
    return ModuleWorker(module, records, evidence), records, state


def _publish_dns(records: Topic, count: int, start: int = 0) -> None:
    profiler = Profiler(Config())
    profiler.t0 = T0
    batch = []
    for i in range(start, start + count):
        record = dns(starttime=T0 + i, query=f"host{i}.example.com", answers=[f"93.184.216.{i % 250 + 1}"])
        batch.append((record.channel, profiler.assign(record)))
    records.publish(BATCH, encode_batch(batch))


def _state_keys(client: Any) -> list[bytes]:
    return sorted(client.scan_iter(match=f"{PREFIX}:state:*"))


@pytest.mark.parametrize(
    ("client_factory", "mirrored"),
    [(fakeredis.FakeRedis, False), (ServerLikeRedis, True)],
)
def test_mirror_kept_only_for_a_server(client_factory, mirrored):
    client = client_factory()
    _, _, state = _setup(client)
    assert (state.mirror is not None) is mirrored


@pytest.mark.parametrize(
    ("flush_every", "first_batch", "written_after_first"),
    [(5, 4, False), (5, 5, True), (5, 6, True)],
)
def test_server_mirror_written_every_k_records_and_at_end(monkeypatch, flush_every, first_batch, written_after_first):
    monkeypatch.setattr(worker_module, "FLUSH_EVERY_RECORDS", flush_every)
    client = ServerLikeRedis()
    worker, records, _ = _setup(client)
    _publish_dns(records, first_batch)
    worker.pump()
    assert bool(_state_keys(client)) is written_after_first
    records.publish(INPUT_END, b"")
    worker.pump()
    assert worker.done
    assert _state_keys(client), "end of input must write the state"


def test_embedded_run_writes_no_state_keys():
    client = fakeredis.FakeRedis()
    worker, records, _ = _setup(client)
    _publish_dns(records, 30)
    records.publish(INPUT_END, b"")
    worker.pump()
    assert worker.done
    assert _state_keys(client) == []
