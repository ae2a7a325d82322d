"""Attach mode on a real Redis: replay recorded Slips-format messages and read
the evidence that comes back on ``evidence_added``."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import redis

from flowalerts.attach import AttachOptions, SlipsAttachment, run_attached, slips_evidence
from flowalerts.config import Config
from flowalerts.knowledge import Knowledge
from flowalerts.lookups import NullLookups

pytestmark = pytest.mark.integration

SLIPS_EVIDENCE_KEYS = {
    "evidence_type", "description", "attacker", "victim", "threat_level", "confidence", "profile",
    "timewindow", "uid", "timestamp", "proto", "src_port", "dst_port", "interface", "method", "id", "rel_id",
}


def replay(client: redis.Redis, fixtures_dir, prefix: str) -> int:
    count = 0
    for line in (fixtures_dir / "slips_messages.jsonl").read_text().splitlines():
        item = json.loads(line)
        data = item["data"] if isinstance(item["data"], str) else json.dumps(item["data"])
        client.publish(prefix + item["channel"], data)
        count += 1
    return count


def run_against(redis_url: str, fixtures_dir, tmp_path, version_filter: str | None):
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub(ignore_subscribe_messages=True)
    # Pub/sub channels are shared by every DB of the server: keep this run apart.
    prefix = f"test{uuid.uuid4().hex[:8]}:"
    listener.subscribe(prefix + "evidence_added")
    config = Config()
    options = AttachOptions(
        redis_url=redis_url, config=config, version_filter=version_filter, outdir=str(tmp_path / "out"),
        knowledge=Knowledge.load(config, notify=lambda text: None), lookups=NullLookups(),
        emit=lambda text: None, poll_seconds=0.02, channel_prefix=prefix,
    )
    stop, ready = threading.Event(), threading.Event()
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("summary", run_attached(options, stop, ready)), daemon=True)
    thread.start()
    assert ready.wait(10)
    assert replay(client, fixtures_dir, prefix) == 7
    evidences: list[dict] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len({e["uid"][0] for e in evidences}) < 3:
        item = listener.get_message(timeout=0.1)
        if item is not None:
            evidences.append(json.loads(item["data"]))
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    # Whatever finish() settled comes after the stop.
    while (item := listener.get_message(timeout=0.2)) is not None:
        evidences.append(json.loads(item["data"]))
    listener.close()
    client.close()
    return evidences, result["summary"]


@pytest.mark.redis
@pytest.mark.parametrize("version_filter", ["1.1.21", None])
def test_replayed_messages_give_slips_shaped_evidence(redis_url, fixtures_dir, tmp_path, version_filter):
    evidences, summary = run_against(redis_url, fixtures_dir, tmp_path, version_filter)
    by_uid = {tuple(e["uid"]): e for e in evidences if e["evidence_type"] in ("GRE_SCAN", "GRE_TUNNEL", "LONG_CONNECTION")}
    expected_uids = {("CGre1",), ("CLong1",), ("CGre2",)}
    if version_filter is None:
        expected_uids.add(("CGreOld",))
    assert set(by_uid) == expected_uids
    for evidence in evidences:
        assert evidence.keys() == SLIPS_EVIDENCE_KEYS | {"version"}
        assert evidence["method"] == "HEURISTIC"
        assert evidence["version"] == "1.1.21"
    scan = by_uid[("CGre1",)]
    assert scan["evidence_type"] == "GRE_SCAN"
    assert scan["threat_level"] == "LOW"
    assert scan["confidence"] == 1.0
    assert scan["profile"] == {"ip": "10.0.2.15"}
    assert scan["timewindow"]["number"] == 1
    assert {k: scan["attacker"][k] for k in ("direction", "ioc_type", "value", "profile")} == {
        "direction": "SRC", "ioc_type": "IP", "value": "10.0.2.15", "profile": {"ip": "10.0.2.15"},
    }
    assert {k: scan["victim"][k] for k in ("direction", "ioc_type", "value")} == {
        "direction": "DST", "ioc_type": "IP", "value": "115.112.11.30",
    }
    assert "profile" not in scan["victim"]
    assert by_uid[("CGre2",)]["evidence_type"] == "GRE_TUNNEL"
    long_conn = by_uid[("CLong1",)]
    assert long_conn["evidence_type"] == "LONG_CONNECTION"
    assert long_conn["threat_level"] == "LOW"
    assert long_conn["dst_port"] == 443
    # starttime given as "%Y/%m/%d %H:%M:%S.%f" (UTC)
    assert long_conn["timestamp"] == "2020-09-13T12:26:50+00:00"
    assert summary.undecodable == 1
    assert summary.dropped_version == (1 if version_filter else 0)
    assert summary.received["new_tunnel"] == 4 and summary.received["tw_closed"] == 1
    assert summary.interrupted
    # The optional output folder holds the same evidence ids.
    written = [json.loads(line)["id"] for line in (tmp_path / "out" / "alerts.json").read_text().splitlines()]
    assert sorted(written) == sorted(e["id"] for e in evidences)


def test_unreachable_redis_is_a_clear_error():
    from flowalerts.bus import BusError

    with pytest.raises(BusError, match="cannot connect to Redis"):
        SlipsAttachment(AttachOptions(redis_url="redis://127.0.0.1:1/0", config=Config(), emit=lambda t: None))


def test_slips_evidence_without_victim():
    from flowalerts.evidence import EvidenceType, ThreatLevel, src_ip
    from flowalerts.modules.flow_alerts.detector import make_evidence

    evidence = make_evidence(
        EvidenceType.PORT_0_CONNECTION, description="port zero", attacker=src_ip("10.0.0.1"),
        threat_level=ThreatLevel.HIGH, confidence=0.8, profile="10.0.0.1", twid=-2, timestamp=0.0, uids=["C1"],
    )
    data = slips_evidence(evidence)
    assert data["victim"] is None and "version" not in data
    assert data["threat_level"] == "HIGH" and data["timewindow"]["number"] == -2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1600000000.5, 1600000000.5),
        (1600000000, 1600000000.0),
        ("1600000000.5", 1600000000.5),
        ("2020-09-13T12:26:40.5+00:00", 1600000000.5),
        ("2020-09-13T14:26:40.5+02:00", 1600000000.5),
        ("2020/09/13 12:26:40.500000", 1600000000.5),
        ("2020/09/13 12:26:40.500000+0000", 1600000000.5),
        ("2020/09/13 12:26:40", 1600000000.0),
        ("yesterday", None),
        ("9" * 5000, None),
        (None, None),
        (True, None),
    ],
)
def test_slips_starttime_forms(value, expected):
    from flowalerts.codec import slips_time_to_epoch

    assert slips_time_to_epoch(value) == expected


@pytest.mark.parametrize("starttime", ["2020/09/13 12:26:40.000000", "2020-09-13T12:26:40+00:00", 1600000000.0])
def test_decode_slips_flow_with_datetime_starttime(starttime):
    from flowalerts.codec import decode_slips

    payload = json.dumps({
        "profileid": "profile_10.0.2.15", "twid": "timewindow2", "version": "1.1.21",
        "flow": {"starttime": starttime, "uid": "C1", "saddr": "10.0.2.15", "daddr": "1.2.3.4", "dport": 80, "dur": 3.0},
    })
    msg = decode_slips("new_flow", payload)
    assert (msg.profile, msg.twid, msg.flow.starttime, msg.flow.uid) == ("10.0.2.15", 2, 1600000000.0, "C1")


@pytest.mark.parametrize(
    "data",
    [
        b'{"profileid": "profile_x", "twid": "timewindow1", "flow": {"starttime": 1600000000, "saddr": "not-an-ip", "daddr": "1.2.3.4"}}',
        b'{"profileid": "profile_1.2.3.4", "twid": "timewindow1", "flow": {"starttime": NaN, "saddr": "1.2.3.4", "daddr": "1.2.3.5"}}',
        b'{"profileid": "profile_1.2.3.4", "twid": "timewindow1", "flow": {"starttime": -5, "saddr": "1.2.3.4", "daddr": "1.2.3.5"}}',
        b'{"profileid": "profile_1.2.3.4", "twid": "timewindow1", "flow": {"starttime": 1, "saddr": "1.2.3.4", "daddr": "1.2.3.5", "dport": 70000}}',
        b'{"profileid": "profile_1.2.3.4", "twid": "timewindow1", "flow": {"starttime": "0001-01-01T00:00:00+00:00", "saddr": "1.2.3.4", "daddr": "1.2.3.5"}}',
        b"{}", b"[1, 2]", b"\xff\xfe", b'{"profileid": "profile_x", "twid": "timewindow1", "flow": {"starttime": "soon"}}', b'{"flow": 5}'],
)
def test_hostile_messages_are_counted_not_fatal(data):
    import fakeredis

    attachment = SlipsAttachment(
        AttachOptions(redis_url="unused", config=Config(), emit=lambda t: None, knowledge=Knowledge.load(Config(), notify=lambda t: None)),
        client=fakeredis.FakeRedis(),
    )
    assert attachment.handle_raw("new_flow", data) == []
    assert attachment.undecodable == 1


@pytest.mark.redis
def test_cli_module_publishes_and_stops_on_sigterm(redis_url, fixtures_dir, tmp_path):
    import signal
    import subprocess
    import sys

    prefix = f"cli{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_url)
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(prefix + "evidence_added")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowalerts", "module", "--redis", redis_url, "--channel-prefix", prefix,
         "--version-filter", "1.1.21", "--offline", "-q", "-o", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and client.pubsub_numsub(prefix + "new_flow")[0][1] == 0:
            time.sleep(0.05)
        replay(client, fixtures_dir, prefix)
        got: list[dict] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(got) < 3:
            item = listener.get_message(timeout=0.1)
            if item is not None:
                got.append(json.loads(item["data"]))
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()
        client.close()
    assert proc.returncode == 130, stderr
    assert {e["evidence_type"] for e in got} >= {"GRE_SCAN", "LONG_CONNECTION"}
    assert "evidence published on" in stdout and "dropped (other version): 1" in stdout
    assert "Traceback" not in stderr
