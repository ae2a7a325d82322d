"""BAD_SMTP_LOGIN (spec 2.22) and SMTP_LOGIN_BRUTEFORCE (2.23, 4.18)."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, src_ip
from tests.harness import CLIENT, SERVER, T0, config, smtp
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline

BAD = "554 5.7.1 bad smtp-auth user"


@pytest.mark.parametrize(
    ("reply", "bad"),
    [
        (BAD, True),
        ("535 5.7.8 Bad SMTP-AUTH user", True),
        ("535 5.7.8 Error: authentication failed", True),
        ("250 2.0.0 Ok: queued", False),
        ("535", False),
        ("", False),
    ],
)
def test_bad_login_table(reply, bad):
    pipe = OwnPipeline()
    found = pipe.of_type("BAD_SMTP_LOGIN", pipe.feed(smtp(last_reply=reply)))
    assert len(found) == (1 if bad else 0)
    if bad:
        [ev] = found
        assert ev.attacker == src_ip(CLIENT) and ev.victim == dst_ip(SERVER)
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
            ThreatLevel.HIGH, 1.0, CLIENT, 1, ["Csmtp1"])


def test_bad_login_ipv6():
    pipe = OwnPipeline()
    [ev] = pipe.feed(smtp(saddr="2001:db8::1", daddr="2001:db8::25", last_reply=BAD))
    assert ev.attacker == src_ip("2001:db8::1") and ev.victim == dst_ip("2001:db8::25")


@pytest.mark.parametrize(
    ("offsets", "expected"),
    [
        ([0], 0),
        ([0, 1, 2], 1),
        ([0, 5, 10], 1),       # exactly the window is inside it
        ([0, 6, 11], 0),       # t+11 pushes t out
        ([0, 1, 2, 3, 4], 1),  # one per burst
        ([0, 1, 2, 20, 21, 22], 2),  # re-armed after the window emptied
    ],
)
def test_bruteforce_table(offsets, expected):
    pipe = OwnPipeline()
    pipe.feed(*[smtp(uid=f"C{i}", starttime=T0 + off, last_reply=BAD) for i, off in enumerate(offsets)])
    found = pipe.of_type("SMTP_LOGIN_BRUTEFORCE")
    assert len(found) == expected
    if expected:
        ev = found[0]
        assert ev.uids == ["C0", "C1", "C2"]
        assert ev.attacker == src_ip(CLIENT) and ev.victim == dst_ip(SERVER)
        assert (ev.threat_level, ev.confidence, ev.profile) == (ThreatLevel.HIGH, 1.0, CLIENT)


def test_bruteforce_threshold_and_window_from_config():
    pipe = OwnPipeline(cfg=config(flow_alerts={"smtp_bruteforce_threshold": 4, "smtp_bruteforce_window": 3}))
    pipe.feed(*[smtp(uid=f"C{i}", starttime=T0 + i, last_reply=BAD) for i in range(3)])
    assert pipe.of_type("SMTP_LOGIN_BRUTEFORCE") == []
    pipe.feed(smtp(uid="C3", starttime=T0 + 3, last_reply=BAD))
    [ev] = pipe.of_type("SMTP_LOGIN_BRUTEFORCE")
    assert ev.uids == ["C0", "C1", "C2", "C3"]


def test_good_replies_do_not_count():
    pipe = OwnPipeline()
    pipe.feed(smtp(uid="C0", last_reply=BAD), smtp(uid="C1", starttime=T0 + 1, last_reply="250 ok"),
              smtp(uid="C2", starttime=T0 + 2, last_reply=BAD))
    assert pipe.of_type("SMTP_LOGIN_BRUTEFORCE") == []
