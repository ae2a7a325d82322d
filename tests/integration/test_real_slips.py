"""Flowalerts inside the real Slips 1.1.21 (``../shared/slips``), in CI.

Slips is run by its harness (``tools/setup.sh``, ``tools/run_slips.sh``, about
a minute per run) on test9, test14 and port-scans (horizontal and vertical),
twice each:

* **dropin**: the README procedure on a fresh copy of the harness's Slips
  tree: this repository pip-installed (editable) in Slips's venv, then
  ``flowalerts slips-install TREE``; Slips (``run_slips.sh baseline``: its
  flow_alerts enabled) loads our module from there;
* **attach**: Slips with its flow_alerts disabled and ``flowalerts module
  --redis`` (this venv's) beside it.

The eight runs go in parallel (session fixture). Each must show: no traceback
anywhere in Slips's output (nor in the attached process's), Slips exit 0, no
"Problem converting", our module ran, rejected no message and settled when
Slips's input was complete, and every evidence type ``flowalerts run``
produces on the dataset (minus the documented host limits: kinds without a
Slips type, detections needing x509.log) stored in Slips's DB, published, and
in Slips's own alerts.json. On test14 the alert threshold is 0.01 (where
Slips's own flow_alerts raises 3 alerts); our evidence reaches it in two
profiles and Slips must raise alerts for both, built from our evidence only.

The harness lives in ``SLIPS_HOME`` (default: a folder per clone in /tmp, so
engineers sharing a machine do not install into each other's Slips venv).
Without ``../shared/slips`` these tests skip, and fail under ``CI=true``.
``SLIPS_RUNS_FROM=DIR`` asserts on the runs a previous session left in DIR
(its ``real-slips*`` folder) instead of running Slips again.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from flowalerts.catalog import load_components
from flowalerts.core.evidence import KINDS, AsInfo, ThreatLevel, dst_domain, dst_ip, src_ip
from flowalerts.hosts.slips.decode import SLIPS_LOGS
from flowalerts.hosts.slips.encode import slips_payload, slips_type
from tests.slips_support import DATASETS, REPO, SLIPS, evidence, require

# A Slips run takes ~50 s, but minutes on a loaded machine (Slips itself): generous timeout.
pytestmark = [pytest.mark.slips, pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(3600)]

TOOLS = SLIPS / "tools"
RUNS = {
    "test9": "test9-mixed-zeek-dir",
    "test14": "test14-malicious-zeek-dir",
    "horizontal": "port-scans/horizontal",
    "vertical": "port-scans/vertical",
}
MODES = ("dropin", "attach")
# Slips's alert threshold (per minute of window) of the test14 runs.
ALERT_THRESHOLD = 0.01
WIDTH_MINUTES = 60.0


def slips_home() -> pathlib.Path:
    if os.environ.get("SLIPS_HOME"):
        return pathlib.Path(os.environ["SLIPS_HOME"])
    tag = hashlib.sha256(str(REPO).encode()).hexdigest()[:10]
    return pathlib.Path(os.environ.get("TMPDIR", "/tmp")) / f"slips-1.1.21-harness-{tag}"


@pytest.fixture(scope="session")
def harness() -> dict[str, str]:
    """Slips built by its setup.sh, with this repository installed in its venv."""
    require(TOOLS / "setup.sh", "the Slips harness")
    env = {**os.environ, "SLIPS_HOME": str(slips_home())}
    setup = subprocess.run(["bash", str(TOOLS / "setup.sh")], env=env, capture_output=True, text=True, timeout=900)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    # What run_slips.sh does with EXTRA_PIP="-e <repo>", once (runs go in parallel).
    pip = pathlib.Path(env["SLIPS_HOME"]) / "venv" / "bin" / "pip"
    install = subprocess.run([str(pip), "install", "-q", "-e", str(REPO)], capture_output=True, text=True, timeout=900)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return env


@pytest.fixture(scope="session")
def installed_home(harness, tmp_path_factory) -> pathlib.Path:
    """A SLIPS_HOME for run_slips.sh whose Slips tree is a fresh copy of the
    harness's, with our module put in by ``flowalerts slips-install`` (the
    README procedure); the venv (where the harness fixture pip-installed this
    repository) and the other harness parts are shared by symlink."""
    home = pathlib.Path(harness["SLIPS_HOME"])
    installed = tmp_path_factory.mktemp("slips-installed")
    for part in ("venv", "bin", "tldextract-cache"):
        (installed / part).symlink_to(home / part)
    shutil.copytree(home / "src", installed / "src", symlinks=True)
    result = subprocess.run([sys.executable, "-m", "flowalerts", "slips-install", str(installed / "src")],
                            capture_output=True, text=True, cwd=str(REPO), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"undo: flowalerts slips-install --uninstall {installed / 'src'}" in result.stdout
    assert (installed / "src" / ".flowalerts-backup" / "flow_alerts" / "flow_alerts.py").is_file()
    return installed


def standalone(dataset: str, out: pathlib.Path) -> list[dict]:
    """``flowalerts run`` on the dataset: its evidence (alerts.json lines)."""
    result = subprocess.run(
        [sys.executable, "-m", "flowalerts", "run", "-f", str(DATASETS / dataset), "-o", str(out), "--offline", "-q"],
        capture_output=True, text=True, cwd=str(REPO), timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [json.loads(line) for line in (out / "alerts.json").read_text().splitlines() if line.strip()]


def host_limited(evidence_type: str) -> bool:
    """Kinds that cannot reach Slips (documented): no Slips type, or their
    detection needs a log Slips does not publish (x509.log)."""
    if slips_type(evidence_type) is None:
        return True
    for cls in load_components()[0].values():
        if any(kind.name == evidence_type for kind in cls.evidence):
            return any(log not in SLIPS_LOGS for log in cls.required_logs())
    return False


def expected_slips_types(evidence: list[dict]) -> set[str]:
    return {slips_type(e["evidence_type"]) for e in evidence if not host_limited(e["evidence_type"])}


def accumulated_levels(evidence: list[dict]) -> Counter[tuple[str, int]]:
    """What Slips's evidence handler accumulates per (profile, window) from this
    evidence: threat level x confidence of each evidence id once, as first
    published (an update rewrites the stored object, Slips does not count it
    again), attacker SRC, not info."""
    accumulated: Counter[tuple[str, int]] = Counter()
    seen: set[str] = set()
    for e in evidence:
        if e["id"] in seen:
            continue
        seen.add(e["id"])
        level = ThreatLevel(e["threat_level"])
        if e["attacker"]["direction"] == "SRC" and level is not ThreatLevel.INFO and not host_limited(e["evidence_type"]):
            accumulated[(e["profile"], e["timewindow"])] += level.weight * e["confidence"]
    return accumulated


def alerting_profiles(evidence: list[dict], threshold: float) -> set[str]:
    """Profiles whose accumulated level reaches Slips's threshold x window minutes in some window."""
    return {profile for (profile, _), level in accumulated_levels(evidence).items() if level >= threshold * WIDTH_MINUTES}


# Slips asks on its terminal whether to "overwrite" a Redis it sees busy while
# it starts (it counts commands for a second, and the harness's own polling
# can be enough on a loaded machine): such a run never started; it is retried.
SLIPS_STARTUP_FLAKE = "is currently being used"


# Attempts at a run that hits that start-up flake (each costs a few seconds).
STARTUP_ATTEMPTS = 8


def run_slips(env: dict[str, str], mode: str, dataset: str, out: pathlib.Path, threshold: float | None,
              delay: float = 0.0, installed: pathlib.Path | None = None) -> pathlib.Path:
    time.sleep(delay)  # stagger the starts: Slips's start-up is the CPU-heavy part
    extra = {"THRESHOLD": str(threshold)} if threshold else {}
    if mode == "dropin":
        # Slips with its flow_alerts enabled, from the tree slips-install changed.
        assert installed is not None
        harness_mode, extra["SLIPS_HOME"] = "baseline", str(installed)
    else:
        harness_mode, extra["FLOWALERTS"] = "attach", str(pathlib.Path(sys.executable).parent / "flowalerts")
    for attempt in range(STARTUP_ATTEMPTS):
        returncode, output = _run_group(
            ["bash", str(TOOLS / "run_slips.sh"), harness_mode, str(DATASETS / dataset), str(out)],
            {**env, **extra}, timeout=1200)
        (out.parent / f"{out.name}.log").write_text(output)
        if returncode == 0 or SLIPS_STARTUP_FLAKE not in read(out / "slips.stdout"):
            break
        (out.parent / f"{out.name}.flake{attempt + 1}.log").write_text(output)
        time.sleep(2 + random.random() * 8)
    assert returncode == 0, output[-6000:]
    return out


def _run_group(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run in its own process group; on timeout the whole group goes (Slips
    and its children, not only the shell script)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        output, _ = process.communicate()
        return -1, (output or "") + f"\n(timed out after {timeout:g} s: process group killed)"
    return process.returncode, output


@pytest.fixture(scope="session")
def runs(request, tmp_path_factory):
    """Every (dataset, mode) run, in parallel; plus what ``flowalerts run`` found."""
    thresholds = {name: ALERT_THRESHOLD if name == "test14" else None for name in RUNS}
    if os.environ.get("SLIPS_RUNS_FROM"):
        root = pathlib.Path(os.environ["SLIPS_RUNS_FROM"])
        evidence = {name: standalone(dataset, root / f"standalone-{name}") for name, dataset in RUNS.items()}
        return {(name, mode): root / f"{mode}-{name}" for name in RUNS for mode in MODES}, evidence, thresholds
    harness = request.getfixturevalue("harness")
    installed = request.getfixturevalue("installed_home")
    root = tmp_path_factory.mktemp("real-slips")
    evidence = {name: standalone(dataset, root / f"standalone-{name}") for name, dataset in RUNS.items()}
    jobs = {}
    workers = int(os.environ.get("SLIPS_PARALLEL_RUNS", "3"))
    stagger = float(os.environ.get("SLIPS_STAGGER_SECONDS", "15"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for index, (name, mode) in enumerate((n, m) for n in RUNS for m in MODES):
            delay = stagger * index if index < workers else 0.0
            jobs[(name, mode)] = pool.submit(run_slips, harness, mode, RUNS[name], root / f"{mode}-{name}",
                                             thresholds[name], delay, installed)
    return {key: job.result() for key, job in jobs.items()}, evidence, thresholds


def read(path: pathlib.Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def slips_db(run: pathlib.Path) -> dict:
    return json.loads(read(run / "slips_db.json") or "{}")


PARAMS = [(name, mode) for name in RUNS for mode in MODES]


@pytest.mark.parametrize(("name", "mode"), PARAMS)
def test_slips_runs_clean_with_our_module(runs, name, mode):
    run = runs[0][(name, mode)]
    expected = sorted(expected_slips_types(runs[1][name]))
    check = subprocess.run(
        [sys.executable, str(TOOLS / "check.py"), str(run), *(["--expect", ",".join(expected)] if expected else [])],
        capture_output=True, text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    stdout = read(run / "slips.stdout") + read(run / "slips" / "errors.log")
    assert "Problem converting" not in stdout
    assert "Traceback" not in stdout
    if mode == "dropin":
        assert "Starting flow_alerts module (Flowalerts" in stdout
        summary = read(run / "slips" / "flow_alerts" / "flowalerts_summary.txt")
        assert summary.startswith("messages received:") and "rejected 0)" in summary, summary
        assert "Slips's input was complete before it stopped (" in summary, summary
        assert "Flowalerts: " in stdout and " 0 messages rejected" in stdout
    else:
        attached = read(run / "flowalerts.stdout")
        assert "attached to Slips's Redis" in attached
        assert "Slips's input is complete (" in attached, attached
        last = attached.strip().splitlines()[-1]
        assert last.startswith("flowalerts module:") and "(0 rejected)" in last and "0 detection failures" in last, attached
        assert "Traceback" not in attached


def slips_events(run: pathlib.Path) -> list[dict]:
    """The IDMEF lines of Slips's own alerts.json."""
    return [json.loads(line) for line in read(run / "slips" / "alerts" / "alerts.json").splitlines() if line.strip()]


@pytest.mark.parametrize(("name", "mode"), PARAMS)
def test_every_evidence_type_of_flowalerts_run_is_stored_and_alerted_by_slips(runs, name, mode):
    run = runs[0][(name, mode)]
    expected = expected_slips_types(runs[1][name])
    db = slips_db(run)
    stored = Counter(e["evidence_type"] for h in db.get("evidence", {}).values() for e in h.values())
    assert expected <= set(stored), (expected, stored)
    # Only our module produces evidence in these runs: nothing Slips-only sneaks in.
    ours = {slips_type(k) for k in KINDS} - {None}
    assert set(stored) <= ours, stored
    # Slips's evidence handler took every type (an IDMEF Event in its alerts.json per evidence).
    ids_by_type = {eid: e["evidence_type"] for h in db.get("evidence", {}).values() for eid, e in h.items()}
    logged = Counter(ids_by_type[event["ID"]] for event in slips_events(run)
                     if event.get("Status") == "Event" and event.get("ID") in ids_by_type)
    assert expected <= set(logged), (expected, logged)


@pytest.mark.parametrize("mode", MODES)
def test_slips_raises_alerts_built_from_our_evidence(runs, mode):
    run = runs[0][("test14", mode)]
    threshold = runs[2]["test14"]
    profiles = alerting_profiles(runs[1]["test14"], threshold)
    # The dataset's evidence reaches 0.01 (x 60 minutes) in two profiles.
    assert profiles == {"10.0.2.15", "10.1.11.101"}, accumulated_levels(runs[1]["test14"])
    db = slips_db(run)
    our_ids = {eid for h in db.get("evidence", {}).values() for eid in h}
    alerts = {tw: [json.loads(ids) for ids in per_tw.values()] for tw, per_tw in db.get("timewindow_alerts", {}).items()}
    assert {tw.split("_")[1] for tw in alerts} == profiles, alerts
    assert all(ids and set(ids) <= our_ids for per_tw in alerts.values() for ids in per_tw)
    # Slips's alerts.json: an Incident for each alert, made of our evidence only.
    # (Slips's evidence handler workers race: two of them may both raise an
    # alert of the same evidence, one overwriting the other in the DB, so
    # alerts.json can hold one Incident more than the DB keeps.)
    incidents = [event for event in slips_events(run) if event.get("Status") == "Incident"]
    assert {alert for per_tw in db["timewindow_alerts"].values() for alert in per_tw} <= {i["ID"] for i in incidents}
    assert {source["IP"] for i in incidents for source in i["Source"]} == profiles
    assert all(i["CorrelID"] and set(i["CorrelID"]) <= our_ids for i in incidents)


def test_slips_install_gives_a_tree_slips_loads_and_evidence_slips_decodes(harness, tmp_path):
    """Fast (no Slips run): ``flowalerts slips-install`` on a copy of Slips's tree;
    Slips's Python imports the module class from it; our payloads become Slips's
    Evidence objects and survive Slips's own JSON round trip."""
    tree = tmp_path / "slips"
    shutil.copytree(SLIPS / "slips-1.1.21", tree, ignore=shutil.ignore_patterns("dataset", "*.pyc"))
    for path in [tree, *tree.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    result = subprocess.run([sys.executable, "-m", "flowalerts", "slips-install", str(tree)], capture_output=True,
                            text=True, cwd=str(REPO))
    assert result.returncode == 0, result.stderr
    victim = dst_ip("8.8.8.8")
    victim.AS = AsInfo(number=15169, org="Google")
    payloads = [
        slips_payload(evidence(), "MULTIPLE_RECONNECTION_ATTEMPTS"),
        slips_payload(evidence(victim=victim, proto="udp", src_port=5), "LONG_CONNECTION"),
        slips_payload(evidence(attacker=src_ip("10.0.0.5"), victim=dst_domain("example.com"), proto="gre"), "GRE_TUNNEL"),
    ]
    (tmp_path / "payloads.json").write_text(json.dumps(payloads))
    script = """
import importlib, inspect, json, sys
from slips_files.common.abstracts.imodule import IModule
from slips_files.common.slips_utils import utils
from slips_files.core.structures.evidence import dict_to_evidence
module = importlib.import_module("modules.flow_alerts.flow_alerts")
classes = [c.name for _, c in inspect.getmembers(module, inspect.isclass) if issubclass(c, IModule) and c.__module__ == module.__name__]
out = []
for payload in json.load(open(sys.argv[1])):
    evidence = module.slips_evidence(payload)
    again = dict_to_evidence(json.loads(json.dumps(utils.to_dict(evidence))))
    out.append([str(again.evidence_type), again.id, again.attacker.value, str(again.threat_level)])
print(json.dumps({"classes": classes, "evidence": out}))
"""
    python = pathlib.Path(harness["SLIPS_HOME"]) / "venv" / "bin" / "python"
    check = subprocess.run([str(python), "-c", script, str(tmp_path / "payloads.json")], capture_output=True, text=True,
                           cwd=str(tree), timeout=120)
    assert check.returncode == 0, check.stderr[-3000:]
    found = json.loads(check.stdout.strip().splitlines()[-1])
    assert found["classes"] == ["flow_alerts"]
    assert [row[0] for row in found["evidence"]] == ["MULTIPLE_RECONNECTION_ATTEMPTS", "LONG_CONNECTION", "GRE_TUNNEL"]
    assert [row[1] for row in found["evidence"]] == [p["id"] for p in payloads]
    # The README's undo: Slips's tree exactly as it was.
    undo = subprocess.run([sys.executable, "-m", "flowalerts", "slips-install", "--uninstall", str(tree)],
                          capture_output=True, text=True, cwd=str(REPO))
    assert undo.returncode == 0, undo.stderr
    assert file_hashes(tree) == file_hashes(SLIPS / "slips-1.1.21")


def file_hashes(root: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc" and "dataset" not in p.parts[:1]}


DEFAULT_THRESHOLD_RUNS = [(name, mode) for name in RUNS if name != "test14" for mode in MODES]


@pytest.mark.parametrize(("name", "mode"), DEFAULT_THRESHOLD_RUNS)
def test_no_slips_alert_at_the_default_threshold_where_slips_own_are_false_or_absent(runs, name, mode):
    """At Slips's default threshold, with weight steps (issue 25): test9's 3
    alerts of Slips's own module (10.0.2.15, its INCOMPATIBLE_CN on Google's,
    Microsoft's... own certificates) are false positives and do not come
    back; the port-scan folders alert with neither module."""
    assert runs[2][name] is None
    incidents = [event for event in slips_events(runs[0][(name, mode)]) if event.get("Status") == "Incident"]
    assert incidents == []
