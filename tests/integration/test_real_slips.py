"""Flowalerts inside the real Slips 1.1.21 (``../shared/slips``), in CI.

Slips is run by its harness (``tools/setup.sh``, ``tools/run_slips.sh``, about
a minute per run) on test9, test14 and port-scans/vertical, twice each:

* **dropin**: our ``modules/flow_alerts`` folder in place of Slips's, loaded by
  Slips itself, with this repository pip-installed (editable) in Slips's venv;
* **attach**: Slips with its flow_alerts disabled and ``flowalerts module
  --redis`` (this venv's) beside it.

The six runs go in parallel (session fixture). Each must show: no traceback
anywhere in Slips's output (nor in the attached process's), Slips exit 0, no
"Problem converting", our module ran and rejected no message, and every
evidence type ``flowalerts run`` produces on the dataset (minus the documented
host limits: kinds without a Slips type, detections needing x509.log) stored
in Slips's DB, published, and in Slips's own alerts.json. On test14 the alert
threshold is set to a level the dataset's evidence reaches (0.01, or lower if
the ported detections weigh less), and Slips must raise an alert built from
our evidence.

The harness lives in ``SLIPS_HOME`` (default: a folder per clone in /tmp, so
engineers sharing a machine do not install into each other's Slips venv).
Without ``../shared/slips`` these tests skip, and fail under ``CI=true``.
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

from flowalerts.evidence import KINDS, AsInfo, ThreatLevel, dst_domain, dst_ip, src_ip
from flowalerts.modules.flow_alerts.detection import load_components
from flowalerts.slips.decode import SLIPS_LOGS
from flowalerts.slips.encode import slips_payload, slips_type
from tests.slips_support import DATASETS, REPO, SLIPS, evidence, require

# A Slips run takes ~50 s, but minutes on a loaded machine (Slips itself): generous timeout.
pytestmark = [pytest.mark.slips, pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(3600)]

TOOLS = SLIPS / "tools"
RUNS = {
    "test9": "test9-mixed-zeek-dir",
    "test14": "test14-malicious-zeek-dir",
    "vertical": "port-scans/vertical",
}
MODES = ("dropin", "attach")
# Slips's alert threshold (per minute of window) the test14 runs use at most.
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


def alert_threshold(evidence: list[dict]) -> float:
    """0.01, or just below the highest accumulated level the evidence reaches
    in one profile and window (Slips: threat level x confidence, attacker SRC,
    not info), so that Slips must raise an alert."""
    accumulated: Counter[tuple[str, int]] = Counter()
    for e in evidence:
        level = ThreatLevel(e["threat_level"])
        if e["attacker"]["direction"] == "SRC" and level is not ThreatLevel.INFO and not host_limited(e["evidence_type"]):
            accumulated[(e["profile"], e["timewindow"])] += level.weight * e["confidence"]
    top = max(accumulated.values(), default=0.0)
    return min(ALERT_THRESHOLD, round(0.9 * top / WIDTH_MINUTES, 6))


# Slips asks on its terminal whether to "overwrite" a Redis it sees busy while
# it starts (it counts commands for a second, and the harness's own polling
# can be enough on a loaded machine): such a run never started; it is retried.
SLIPS_STARTUP_FLAKE = "is currently being used"


def run_slips(env: dict[str, str], mode: str, dataset: str, out: pathlib.Path, threshold: float | None,
              delay: float = 0.0) -> pathlib.Path:
    time.sleep(delay)  # stagger the starts: Slips's start-up is the CPU-heavy part
    extra = {"THRESHOLD": str(threshold)} if threshold else {}
    if mode == "dropin":
        extra["MODULE_DIR"] = str(REPO / "modules" / "flow_alerts")
    else:
        extra["FLOWALERTS"] = str(pathlib.Path(sys.executable).parent / "flowalerts")
    for attempt in range(4):
        returncode, output = _run_group(["bash", str(TOOLS / "run_slips.sh"), mode, str(DATASETS / dataset), str(out)],
                                        {**env, **extra}, timeout=1200)
        (out.parent / f"{out.name}.log").write_text(output)
        if returncode == 0 or SLIPS_STARTUP_FLAKE not in read(out / "slips.stdout"):
            break
        time.sleep(5 + 7 * attempt + random.random() * 10)
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
def runs(harness, tmp_path_factory):
    """Every (dataset, mode) run, in parallel; plus what ``flowalerts run`` found."""
    root = tmp_path_factory.mktemp("real-slips")
    evidence = {name: standalone(dataset, root / f"standalone-{name}") for name, dataset in RUNS.items()}
    thresholds = {name: alert_threshold(evidence[name]) if name == "test14" else None for name in RUNS}
    jobs = {}
    workers = int(os.environ.get("SLIPS_PARALLEL_RUNS", "3"))
    stagger = float(os.environ.get("SLIPS_STAGGER_SECONDS", "15"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for index, (name, mode) in enumerate((n, m) for n in RUNS for m in MODES):
            delay = stagger * index if index < workers else 0.0
            jobs[(name, mode)] = pool.submit(run_slips, harness, mode, RUNS[name], root / f"{mode}-{name}",
                                             thresholds[name], delay)
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
        assert "Flowalerts: " in stdout and " 0 messages rejected" in stdout
    else:
        attached = read(run / "flowalerts.stdout")
        assert "attached to Slips's Redis" in attached
        last = attached.strip().splitlines()[-1]
        assert last.startswith("flowalerts module:") and "(0 rejected)" in last and "0 detection failures" in last, attached
        assert "Traceback" not in attached


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


@pytest.mark.parametrize("mode", MODES)
def test_slips_raises_alerts_built_from_our_evidence(runs, mode):
    run = runs[0][("test14", mode)]
    threshold = runs[2]["test14"]
    if threshold <= 0:
        pytest.skip("no evidence of flowalerts run on test14 counts towards an alert")
    db = slips_db(run)
    our_ids = {eid for h in db.get("evidence", {}).values() for eid in h}
    alerts = [json.loads(ids) for per_tw in db.get("timewindow_alerts", {}).values() for ids in per_tw.values()]
    assert alerts, f"no alert at threshold {threshold}"
    assert all(set(ids) <= our_ids and ids for ids in alerts)
    incidents = [json.loads(line) for line in read(run / "slips" / "alerts" / "alerts.json").splitlines()
                 if '"Incident"' in line]
    assert incidents


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
