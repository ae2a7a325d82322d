from __future__ import annotations

import json

import pytest
from harness import conn, dns, ssh

from flowalerts.codec import decode_batch, decode_slips, encode_batch
from flowalerts.messages import Message, TwClosed, parse_tw_closed_text
from flowalerts.records import ConnRecord, DnsRecord


def test_batch_round_trip_keeps_order_and_types():
    items = [
        ("new_dns", Message("192.168.1.10", 1, dns(answers=["1.2.3.4", "cname.example"]))),
        ("new_flow", Message("192.168.1.10", 1, conn(dur=12.5))),
        ("tw_closed", TwClosed("192.168.1.10", 0)),
        ("new_ssh", Message("192.168.1.10", 2, ssh(auth_success=None))),
    ]
    decoded = decode_batch(encode_batch(items))
    assert decoded == items
    assert isinstance(decoded[0][1].flow, DnsRecord) and isinstance(decoded[1][1].flow, ConnRecord)


def test_decode_slips_message_with_string_numbers():
    payload = json.dumps({
        "profileid": "profile_10.0.2.15", "twid": "timewindow3", "version": "1.1.21",
        "flow": {"starttime": "1600000000.5", "uid": "C1", "saddr": "10.0.2.15", "daddr": "1.2.3.4",
                 "sport": "1234", "dport": "80", "proto": "tcp", "dur": "2000", "sbytes": 10, "type_": "conn"},
    })
    msg = decode_slips("new_flow", payload)
    assert msg.profile == "10.0.2.15" and msg.twid == 3
    assert msg.flow.dport == 80 and msg.flow.dur == 2000.0 and isinstance(msg.flow, ConnRecord)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "profile_192.168.1.1_timewindow3"}, TwClosed("192.168.1.1", 3)),
        ({"text": json.dumps("profile_192.168.1.1_timewindow3")}, TwClosed("192.168.1.1", 3)),
        ({"text": "profile_fe80::1_timewindow-2"}, TwClosed("fe80::1", -2)),
        ({"text": "invalid_payload"}, None),
    ],
)
def test_tw_closed_parsing(payload, expected):
    assert decode_slips("tw_closed", json.dumps(payload)) == expected


def test_parse_tw_closed_text_rejects_garbage():
    assert parse_tw_closed_text("profile_x_timewindowZ") is None
    assert parse_tw_closed_text("nounderscore") is None
