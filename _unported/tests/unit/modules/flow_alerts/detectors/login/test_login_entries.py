"""LOGIN (spec 2.37, 4.29) from login.log."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, dst_ip, from_json, src_ip, to_json
from tests.harness import login
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline

CLIENT, SERVER = "147.32.80.40", "147.32.80.37"


@pytest.mark.parametrize(
    ("success", "confused", "proto", "user", "status", "proto_text"),
    [
        (True, False, "telnet", "root", "Successful", "telnet"),
        (False, True, "rlogin", "", "Confused", "rlogin"),
        (False, False, "rsh", "bob", "Failed", "rsh"),
        (False, False, "", "", "Failed", "login"),
    ],
)
def test_login_table(success, confused, proto, user, status, proto_text):
    pipe = OwnPipeline()
    rec = login(uid="CpUMTT6FJDsiSlCre", saddr=CLIENT, daddr=SERVER, success=success, confused=confused,
                proto=proto, user=user)
    [ev] = pipe.feed(rec)
    assert ev.evidence_type.value == "LOGIN"
    assert ev.attacker == dst_ip(SERVER) and ev.victim == src_ip(CLIENT)
    assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
        ThreatLevel.INFO, 1.0, CLIENT, 1, ["CpUMTT6FJDsiSlCre"])
    assert (ev.src_port, ev.dst_port) == (40422, 23)
    assert ev.description.startswith(f"{status} {proto_text} login")
    assert (f"user '{user}'" in ev.description) is bool(user)
    assert from_json(to_json(ev)) == ev


def test_login_to_non_ip_is_ignored():
    pipe = OwnPipeline()
    assert pipe.feed(login(daddr="")) == []
