"""MULTIPLE_SSH_VERSIONS (spec 2.25, 4.20): compared with the previous version."""

from __future__ import annotations

import pytest

from flowalerts.evidence import ThreatLevel, src_ip
from tests.harness import CLIENT, T0, software
from tests.unit.modules.flow_alerts.detectors.tls.tls_support import OwnPipeline


def v(major, minor, role="SSH::CLIENT", offset=0, **kw):
    return software(software=role, version_major=major, version_minor=minor, starttime=T0 + offset, **kw)


@pytest.mark.parametrize(
    ("records", "descriptions"),
    [
        ([v(9, 1)], []),
        ([v(8, 1), v(8, 1, offset=1)], []),
        ([v(8, 1), v(9, 1, offset=1)], ["SSH client version of 192.168.1.10 changed from 8.1 to 9.1 (OpenSSH)"]),
        ([v(8, 1), v(8, 2, offset=1)], ["SSH client version of 192.168.1.10 changed from 8.1 to 8.2 (OpenSSH)"]),
        ([v(2, 2, "SSH::SERVER"), v(2, 3, "SSH::SERVER", 1)],
         ["SSH server version of 192.168.1.10 changed from 2.2 to 2.3 (OpenSSH)"]),
        ([v(8, 1), v(9, 1, "SSH::SERVER", 1)], []),          # roles are separate
        ([v(8, 1, "HTTP::BROWSER"), v(9, 1, "HTTP::BROWSER", 1)], []),
        ([v(8, 1), v(9, 1, offset=1), v(9, 1, offset=2)], ["SSH client version of 192.168.1.10 changed from 8.1 to 9.1 (OpenSSH)"]),
        ([v(8, 1), v(9, 1, offset=1), v(8, 1, offset=2)], [
            "SSH client version of 192.168.1.10 changed from 8.1 to 9.1 (OpenSSH)",
            "SSH client version of 192.168.1.10 changed from 9.1 to 8.1 (OpenSSH)",
        ]),
        ([v(None, None, unparsed_version="dropbear_x"), v(None, None, offset=1, unparsed_version="dropbear_y")],
         ["SSH client version of 192.168.1.10 changed from dropbear_x to dropbear_y (OpenSSH)"]),
    ],
)
def test_ssh_versions_table(records, descriptions):
    pipe = OwnPipeline()
    pipe.feed(*records)
    found = pipe.of_type("MULTIPLE_SSH_VERSIONS")
    assert [e.description for e in found] == descriptions
    for ev in found:
        assert ev.attacker == src_ip(CLIENT) and ev.victim is None
        assert (ev.threat_level, ev.confidence, ev.profile, ev.timewindow, ev.uids) == (
            ThreatLevel.MEDIUM, 0.9, CLIENT, 1, [])


def test_other_host_is_separate():
    pipe = OwnPipeline()
    pipe.feed(v(8, 1), v(9, 1, offset=1, saddr="10.0.0.9"))
    assert pipe.of_type("MULTIPLE_SSH_VERSIONS") == []
