"""Slips's own alerts, at Slips's DEFAULT threshold, from our evidence (issue 25).

Slips alerts when the threat level x confidence of the evidence stored for a
(profile, window) sums to ``evidence_detection_threshold`` x width / 60 (0.25
x 60 = 15); it weighs each stored evidence once. Our aggregated evidence
stands for many (one UNKNOWN_PORT for 300 flows), so the Slips hosts add its
**weight steps** (``flowalerts.hosts.slips.encode.WeightSteps``). Here the
real Slips 1.1.21 (harness ``../shared/slips``, threshold left at its default)
runs with our module dropped in and attached, on:

* a generated capture of the issue's shape (``slips_capture``): one infected
  host retrying one C2 on an unknown port 300 times within the hour (S0/REJ,
  no DNS) beside three normal hosts browsing (DNS + HTTPS). Slips must alert
  on the infected host, and on no other;
* ``../shared/datasets/real/simda-botnet355``: Slips's own flow_alerts raises
  22 alerts there, every one on the Simda host's IPv6 address (measured with
  ``run_slips.sh baseline``, see the README table "Alerts inside Slips at the
  default threshold"). With ours Slips alerts on that host, and only there.

One module-scoped fixture per capture runs Slips twice (dropin, attach); the
runs are serialized by the harness's machine-wide lock (~50 s each).
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from flowalerts.hosts.slips.encode import MAX_STEPS
from tests.integration.slips_capture import INFECTED, NORMAL, write_infection_capture
from tests.integration.test_real_slips import (  # noqa: F401 (fixtures)
    TOOLS,
    harness,
    installed_home,
    read,
    run_slips,
    slips_db,
    slips_events,
)
from tests.slips_support import SHARED, require

pytestmark = [pytest.mark.slips, pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(3600)]

MODES = ("dropin", "attach")
SIMDA = SHARED / "datasets" / "real" / "simda-botnet355"
SIMDA_HOST_V6 = "fd77:48a1:c0bb:0:b96c:506d:6c7f:e8be"


def run_both(request, tmp_path_factory, name: str, folder: pathlib.Path) -> dict[str, pathlib.Path]:
    harness_env = request.getfixturevalue("harness")
    installed = request.getfixturevalue("installed_home")
    root = tmp_path_factory.mktemp(f"slips-alerts-{name}")
    # threshold None: Slips's default (0.25), as an operator runs it.
    return {mode: run_slips(harness_env, mode, str(folder), root / mode, None, 0.0, installed) for mode in MODES}


@pytest.fixture(scope="module")
def generated(request, tmp_path_factory):
    capture = write_infection_capture(tmp_path_factory.mktemp("capture") / "zeek")
    return capture, run_both(request, tmp_path_factory, "generated", capture.folder)


@pytest.fixture(scope="module")
def simda(request, tmp_path_factory):
    require(SIMDA, "the Simda capture")
    return run_both(request, tmp_path_factory, "simda", SIMDA)


def alert_sources(run: pathlib.Path) -> set[str]:
    """Profiles of Slips's alerts (IDMEF Incidents in its alerts.json)."""
    return {source["IP"] for event in slips_events(run) if event.get("Status") == "Incident"
            for source in event["Source"]}


def stored(run: pathlib.Path) -> dict[str, dict]:
    """Every evidence in Slips's DB by id."""
    return {eid: e for h in slips_db(run).get("evidence", {}).values() for eid, e in h.items()}


def assert_clean(run: pathlib.Path, mode: str) -> str:
    """Slips ran cleanly with our module; our summary back."""
    check = subprocess.run([sys.executable, str(TOOLS / "check.py"), str(run)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    out = read(run / "slips.stdout") + read(run / "slips" / "errors.log")
    assert "Problem converting" not in out and "Traceback" not in out
    if mode == "dropin":
        return read(run / "slips" / "flow_alerts" / "flowalerts_summary.txt")
    attached = read(run / "flowalerts.stdout")
    assert "Traceback" not in attached
    return attached


def assert_alerts_only_from_our_evidence(run: pathlib.Path) -> None:
    ours = stored(run)
    incidents = [event for event in slips_events(run) if event.get("Status") == "Incident"]
    assert incidents
    assert all(event["CorrelID"] and set(event["CorrelID"]) <= set(ours) for event in incidents)


@pytest.mark.parametrize("mode", MODES)
def test_slips_alerts_on_the_infected_host_and_no_other(generated, mode):
    capture, runs = generated
    run = runs[mode]
    summary = assert_clean(run, mode)
    assert "rejected 0)" in summary
    assert alert_sources(run) == {INFECTED}
    assert_alerts_only_from_our_evidence(run)
    evidence = stored(run)
    # Our three aggregates of the C2 retries, and weight steps: new ids, each
    # naming its aggregate in rel_id, bounded (Slips's own module stores one
    # UNKNOWN_PORT and one CONNECTION_WITHOUT_DNS per attempt: 600 here).
    aggregates = {eid: e for eid, e in evidence.items() if "[weight step " not in e["description"]}
    steps = {eid: e for eid, e in evidence.items() if "[weight step " in e["description"]}
    assert sorted(e["evidence_type"] for e in aggregates.values()) == [
        "CONNECTION_WITHOUT_DNS", "MULTIPLE_RECONNECTION_ATTEMPTS", "UNKNOWN_PORT"]
    assert all(e["profile"]["ip"] == INFECTED for e in evidence.values())
    assert 1 <= len(steps) <= MAX_STEPS
    assert all(e["rel_id"] and e["rel_id"][0] in aggregates for e in steps.values())
    weights = {"LOW": 0.2, "MEDIUM": 0.5, "HIGH": 0.8, "CRITICAL": 1.0}
    total = sum(weights.get(e["threat_level"].upper(), 0.0) * e["confidence"] for e in evidence.values())
    assert 15 <= total <= 15 + 1.0 + 1.0  # just past Slips's alert level: the window's steps stop there
    # The normal hosts: nothing at all (their names were resolved, 443 is known).
    assert not any(e["profile"]["ip"] in NORMAL for e in evidence.values())
    assert capture.attempts == 300


@pytest.mark.parametrize("mode", MODES)
def test_slips_alerts_on_the_simda_host_as_with_its_own_module(simda, mode):
    run = simda[mode]
    summary = assert_clean(run, mode)
    assert "rejected 0)" in summary
    # Slips's own flow_alerts: 22 alerts, all on the Simda host's IPv6 address.
    assert alert_sources(run) == {SIMDA_HOST_V6}
    assert_alerts_only_from_our_evidence(run)
    incident_types = {stored(run)[eid]["evidence_type"] for event in slips_events(run)
                      if event.get("Status") == "Incident" for eid in event["CorrelID"]}
    assert "DGA_NXDOMAINS" in incident_types, incident_types


def test_weight_steps_are_counted_in_our_summary(generated):
    _, runs = generated
    summary = read(runs["dropin"] / "slips" / "flow_alerts" / "flowalerts_summary.txt")
    line = next(line for line in summary.splitlines() if line.startswith("evidence: "))
    steps = sum(1 for e in stored(runs["dropin"]).values() if "[weight step " in e["description"])
    assert line.endswith(f"; weight steps: {steps} stored in Slips"), line
