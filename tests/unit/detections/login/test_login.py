"""LOGIN from login.log (seed "Login log entries"; spec 2.37, 4.29; issue 13: one evidence per server and window)."""

from __future__ import annotations

import pytest

from flowalerts.core.evidence import decode_evidence, to_json
from flowalerts.detections.login.login import Login, LoginDetails
from tests.harness import T0, Harness, login, summary

CLIENT, SERVER = "147.32.80.40", "147.32.80.37"


def rec(success=True, confused=False, proto="telnet", user="root", uid="CpUMTT6FJDsiSlCre", ts=T0, daddr=SERVER):
    return login(starttime=ts, uid=uid, saddr=CLIENT, sport=40422, daddr=daddr, dport=23, success=success,
                 confused=confused, proto=proto, user=user)


def ev(proto="telnet", successful=0, failed=0, confused=0, users=("root",), n=1):
    details = {"kind": "LoginDetails", "proto": proto, "successful": successful, "failed": failed,
               "confused": confused, "users": list(users)}
    return ("LOGIN", CLIENT, 1, SERVER, CLIENT, "info", 1.0, n, details)


@pytest.mark.parametrize(
    ("record", "result"),
    [
        (rec(), [ev(successful=1)]),
        (rec(success=False, confused=True, proto="rlogin", user=""), [ev(proto="rlogin", confused=1, users=())]),
        (rec(success=False, proto="rsh", user="bob"), [ev(proto="rsh", failed=1, users=("bob",))]),
        (rec(success=False, proto="", user=""), [ev(proto="login", failed=1, users=())]),
    ],
)
def test_outcomes(record, result):
    assert run(record) == result


def run(*records):
    return [summary(e) for e in Harness(Login).feed(*records).evidence()]


def test_evidence_fields_and_json_round_trip():
    (evidence,) = Harness(Login).feed(rec()).evidence()
    assert (evidence.attacker.direction.value, evidence.victim.direction.value) == ("DST", "SRC")
    assert (evidence.uids, evidence.src_port, evidence.dst_port, evidence.profile) == (
        ["CpUMTT6FJDsiSlCre"], 40422, 23, CLIENT)
    assert "successful telnet login" in evidence.description
    assert decode_evidence(to_json(evidence)) == evidence


def test_login_to_a_non_ip_is_ignored():
    assert run(rec(daddr="")) == []


def test_one_evidence_per_server_protocol_and_window():
    records = [rec(success=False, user="root", uid="A", ts=T0), rec(success=False, user="admin", uid="B", ts=T0 + 1),
               rec(success=True, user="admin", uid="C", ts=T0 + 2),
               rec(proto="rlogin", uid="D", ts=T0 + 3), rec(uid="E", ts=T0 + 3600)]
    evidence = Harness(Login).feed(*records).evidence()
    assert [(e.timewindow, e.count, e.uids, e.details) for e in evidence] == [
        (1, 3, ["A", "B", "C"], LoginDetails(proto="telnet", successful=1, failed=2, confused=0, users=["root", "admin"])),
        (1, 1, ["D"], LoginDetails(proto="rlogin", successful=1, failed=0, confused=0, users=["root"])),
        (2, 1, ["E"], LoginDetails(proto="telnet", successful=1, failed=0, confused=0, users=["root"])),
    ]
    assert [e.threat_level.value for e in evidence] == ["info"] * 3


def test_hostile_user_escaped():
    (evidence,) = Harness(Login).feed(rec(user="root\x1b[2J\n")).evidence()
    assert "\x1b" not in evidence.description and "\n" not in evidence.description
