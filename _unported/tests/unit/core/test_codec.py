from __future__ import annotations

from harness import conn, dns, ssh

from flowalerts.codec import decode_batch, encode_batch
from flowalerts.messages import Message, TwClosed
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


# The Slips-message cases moved to tests/unit/slips/test_slips_decode.py (recorded traffic).
