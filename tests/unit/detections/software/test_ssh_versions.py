"""MULTIPLE_SSH_VERSIONS (seed "SSH version changing"; spec 2.25, 4.20, 5.3 item 31; issue 13)."""

from __future__ import annotations

import pytest

from flowalerts.detections.software.ssh_versions import SshVersions
from tests.harness import CLIENT, T0, Harness, software, summary


def v(major, minor, role="SSH::CLIENT", offset=0, **kw):
    return software(software=role, version_major=major, version_minor=minor, starttime=T0 + offset, **kw)


def ev(role, versions, changes=1, software_name="OpenSSH"):
    details = {"kind": "SshVersionsDetails", "role": role, "changes": changes, "versions": versions,
               "software": software_name}
    return ("MULTIPLE_SSH_VERSIONS", CLIENT, 1, CLIENT, None, "medium", 0.9, changes, details)


def run(*records):
    return [summary(e) for e in Harness(SshVersions).feed(*records).evidence()]


@pytest.mark.parametrize(
    ("records", "result"),
    [
        ([v(9, 1)], []),
        ([v(8, 1), v(8, 1, offset=1)], []),
        ([v(8, 1), v(9, 1, offset=1)], [ev("client", ["8.1", "9.1"])]),  # major differs
        ([v(8, 1), v(8, 2, offset=1)], [ev("client", ["8.1", "8.2"])]),  # minor differs
        ([v(2, 2, "SSH::SERVER"), v(2, 3, "SSH::SERVER", 1)], [ev("server", ["2.2", "2.3"])]),
        ([v(8, 1), v(9, 1, "SSH::SERVER", 1)], []),  # roles are separate
        ([v(8, 1, "HTTP::BROWSER"), v(9, 1, "HTTP::BROWSER", 1)], []),
        # Compared with the previous version, not the first ever (the reference re-alerted on every line).
        ([v(8, 1), v(9, 1, offset=1), v(9, 1, offset=2), v(9, 1, offset=3)], [ev("client", ["8.1", "9.1"])]),
        ([v(8, 1), v(9, 1, offset=1), v(8, 1, offset=2)], [ev("client", ["8.1", "9.1", "8.1"], changes=2)]),
        ([v(None, None, unparsed_version="dropbear_x"), v(None, None, offset=1, unparsed_version="dropbear_y")],
         [ev("client", ["dropbear_x", "dropbear_y"])]),
        ([v(8, 9, unparsed_version="OpenSSH_8.9p1"), v(8, 9, offset=1, unparsed_version="OpenSSH_8.9p2")], []),
    ],
)
def test_versions(records, result):
    assert run(*records) == result


def test_other_hosts_are_separate():
    assert run(v(8, 1), v(9, 1, offset=1, saddr="10.0.0.9")) == []


def test_one_evidence_per_role_and_window():
    records = [v(8, 1), v(9, 1, offset=1), v(8, 1, offset=2), v(9, 1, offset=3600), v(8, 1, offset=3601)]
    evidence = Harness(SshVersions).feed(*records).evidence()
    assert [(e.timewindow, e.count, e.occurrences, e.uids, e.details.versions) for e in evidence] == [
        (1, 2, 2, [], ["8.1", "9.1", "8.1"]), (2, 2, 2, [], ["8.1", "9.1", "8.1"])]


def test_test9_software_log_shape():
    # test9: one host with OpenSSH 8.1 then 9.1 four seconds later.
    records = [software(starttime=1632302615.444328, saddr="192.168.1.247", version_major=8, version_minor=1,
                        unparsed_version="OpenSSH_8.1"),
               software(starttime=1632302619.444328, saddr="192.168.1.247", version_major=9, version_minor=1,
                        unparsed_version="OpenSSH_9.1")]
    assert [(e.attacker.value, e.details.versions) for e in Harness(SshVersions).feed(*records).evidence()] == [
        ("192.168.1.247", ["8.1", "9.1"])]


def test_a_late_line_joins_the_history_the_next_line_is_compared_with():
    # 8.1 at T0, 8.1 again three hours later (its decision waits for flow time),
    # then a line of 7.4 at T0 + 10 arrives after window 1 was settled: the
    # later 8.1 is a change back from 7.4 (the late line's own change is not
    # reported: its window is settled).
    harness = Harness(SshVersions).feed(v(8, 1), v(8, 1, offset=3 * 3600))
    assert harness.so_far() == []  # (releases the lines held while T0 is chosen)
    harness.feed(v(7, 4, offset=10))
    assert harness.driver.health.late_records["new_software"] == 1
    assert [(e.timewindow, e.ts, e.details.versions) for e in harness.evidence()] == [
        (4, T0 + 3 * 3600, ["7.4", "8.1"])]
