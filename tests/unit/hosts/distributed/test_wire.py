"""The producer/worker wire format and the partition function."""

from __future__ import annotations

import msgspec
import pytest

from flowalerts.core.health import Health
from flowalerts.core.messages import Message
from flowalerts.core.records import RECORD_TYPES, ConnRecord, DnsRecord
from flowalerts.hosts.distributed.producer import config_document, partition_of
from flowalerts.hosts.distributed.wire import (
    END,
    AdvanceItem,
    Done,
    EndItem,
    EvidenceEntry,
    TwClosedItem,
    decode_batch,
    decode_evidence_entry,
    encode_batch,
    encode_evidence,
    message_item,
)
from flowalerts.learners.conn import MacAddress
from flowalerts.learners.dns import PtrName, Resolution
from flowalerts.learners.localnet import LocalNetwork
from flowalerts.learners.servers import Server
from flowalerts.learners.tls import ServerName
from tests.harness import config


def test_decoded_messages_survive_a_state_checkpoint() -> None:
    # A detection may hold a decoded message in its state (a timer payload);
    # the worker's checkpoint pickles that state and restores it on restart.
    from flowalerts.core.state import State

    conn = ConnRecord(starttime=1.5, uid="C1", saddr="10.0.0.1", daddr="1.1.1.1", dport=443, proto="tcp", dur=2.0)
    (decoded,) = decode_batch(encode_batch([message_item(Message("10.0.0.1", 1, conn))]))
    state = State()
    state.table("pending").set("message", decoded, float("inf"))
    restored = State.restore(state.snapshot()).table("pending").get("message")
    assert type(restored) is type(decoded) and restored.flow == conn


def test_a_batch_decodes_into_the_typed_items_in_order() -> None:
    conn = ConnRecord(starttime=1.5, uid="C1", saddr="10.0.0.1", daddr="1.1.1.1", dport=443, proto="tcp", dur=2.0)
    dns = DnsRecord(starttime=1.0, saddr="10.0.0.1", daddr="10.0.0.53", query="a.example", answers=["1.1.1.1"])
    facts = [
        Resolution(client="10.0.0.1", query="a.example", ips=["1.1.1.1"], cnames=["b.example"], ts=1.0),
        PtrName(ip="1.1.1.1", name="one.example", ts=1.0),
        ServerName(ip="1.1.1.1", name="a.example", ts=1.0),
        Server(role="dns", ip="10.0.0.53", ts=1.0),
        MacAddress(mac="aa:bb:cc:dd:ee:ff", ip="10.0.0.1", ts=1.0),
        LocalNetwork(cidr="10.0.0.0/24"),
    ]
    items = [
        message_item(Message("10.0.0.1", 1, dns)),
        *facts,
        message_item(Message("10.0.0.1", 1, conn, True)),
        ("adv", 100.0),
        ("tw", "10.0.0.1", 1),
        END,
    ]
    decoded = decode_batch(encode_batch(items))
    assert [type(item).__name__ for item in decoded] == [
        "DnsRecordMessage", "Resolution", "PtrName", "ServerName", "Server", "MacAddress", "LocalNetwork",
        "ConnRecordMessage", "AdvanceItem", "TwClosedItem", "EndItem",
    ]
    assert isinstance(decoded[0], Message) and decoded[0].flow == dns and decoded[0].late is False
    assert decoded[7].flow == conn and decoded[7].late is True and decoded[7].profile == "10.0.0.1"
    assert decoded[1:7] == facts
    assert decoded[8] == AdvanceItem(100.0)
    assert decoded[9] == TwClosedItem("10.0.0.1", 1)
    assert decoded[10] == EndItem()


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.log_type)
def test_every_record_type_round_trips(record_type: type) -> None:
    record = record_type(starttime=12.25, uid="U1", saddr="192.168.1.2", daddr="8.8.8.8", sport=1, dport=2)
    (decoded,) = decode_batch(encode_batch([message_item(Message("192.168.1.2", 3, record))]))
    assert type(decoded.flow) is record_type
    assert decoded.flow == record


def test_a_corrupt_batch_is_an_error_not_garbage() -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        decode_batch(b"\x91\x92\xa3xyz\x01")


def test_evidence_entries_round_trip_with_done() -> None:
    done = Done(processed={"new_flow": 3}, health={"errors": {"x:handle": 1}}, evidence=2, worker="w", rss_kb=10, cpu=0.5)
    entry = EvidenceEntry(partition=2, first_seq=7, lines=[b'{"a":1}', b'{"b":2}'], done=done)
    assert decode_evidence_entry(encode_evidence(entry)) == entry


def test_health_travels_and_merges() -> None:
    first, second, total = Health(), Health(), Health()
    first.errors["a:handle"] += 2
    first.first_traceback["a:handle"] = "tb-a"
    second.errors["a:handle"] += 1
    second.late_records["new_flow"] += 4
    second.skipped["b"] = "needs dns.log"
    for health in (first, second):
        total.merge(msgspec.msgpack.decode(msgspec.msgpack.encode(health.to_builtins())))
    assert total.errors == {"a:handle": 3}
    assert total.first_traceback == {"a:handle": "tb-a"}
    assert total.late_records == {"new_flow": 4}
    assert total.skipped == {"b": "needs dns.log"}
    restored = Health()
    restored.errors["stale"] += 1
    restored.restore(first.to_builtins())
    assert restored.errors == {"a:handle": 2}


def test_partitions_are_stable_and_spread() -> None:
    # crc32, not hash(): the same in every process and on every machine.
    assert partition_of("192.168.1.10", 4) == partition_of("192.168.1.10", 4) == 3
    counts = [0] * 4
    for i in range(1000):
        counts[partition_of(f"10.0.{i // 250}.{i % 250}", 4)] += 1
    assert min(counts) > 150


def test_the_run_configuration_reaches_the_workers_without_the_redis_url() -> None:
    cfg = config(redis={"url": "redis://:secret@host:1/0"}, flow_alerts={"long_connection": {"threshold": 10}})
    doc = msgspec.json.decode(msgspec.json.encode(config_document(cfg)))
    assert doc["redis"]["url"] is None
    assert "secret" not in msgspec.json.encode(doc).decode()
    again = config(**doc)
    assert again.flow_alerts["long_connection"].threshold == 10
    assert again.parameters == cfg.parameters
