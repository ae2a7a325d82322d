"""The report in a real browser (headless Chromium, see ``browser_support``).

On the report of every shared Slips dataset, of every capture in
``../shared/datasets/real`` and of Slips's own alerts.json of the shared
datasets: the page loads with no console message of level error, no uncaught
error, no dialog and no network request; the alerts table, the timeline and
every profile section are in the DOM with the counts the output files give
(each section with its evidence, capped, and the "N more" note when capped);
the filters (profile, evidence type, threat level, text) change what is
visible; a screenshot goes to the test's temporary folder.

A hostile capture (SNI, HTTP host and user agent, DNS names and a weird HTTP
method carrying script, HTML and terminal escapes) gives a report in which no
script of the data runs - the payloads would set a global, log to the console
or open a dialog, and the test listens for all three - and the strings are
shown literally.

Also: the reports of a distributed run (``--redis --workers``) and of a
``--follow`` run, both of which write run.json.
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict

import pytest

from flowalerts.cli.main import main
from flowalerts.io.report import Limits
from tests.conftest import SHARED, need
from tests.integration.browser_support import (
    missing_browser,
    open_report,
    report_screenshot,
    screenshot,
    visible_count,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

SLIPS_DATASETS = [
    "test9-mixed-zeek-dir",
    "test10-mixed-zeek-dir",
    "test13-malicious-dhcpscan-zeek-dir",
    "test14-malicious-zeek-dir",
    "test16-malicious-zeek-dir",
    "port-scans/horizontal",
    "port-scans/vertical",
]
REAL = SHARED / "datasets" / "real"
REAL_DATASETS = ["ctu-normal44-day2", "simda-botnet355", "wrccdc2018-zeek6-json"]
SLIPS_TRAFFIC = SHARED / "slips" / "traffic"
LIMITS = Limits()


@pytest.fixture(scope="module")
def browser() -> None:
    reason = missing_browser()
    need(reason is None, reason or "")


# --- what the output files say (read here, independently of the report code) -------------


def unique_evidence(out: pathlib.Path) -> dict[str, dict]:
    """alerts.json: the last line of each evidence id."""
    found: dict[str, dict] = {}
    for line in (out / "alerts.json").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            data = json.loads(line)
            found[data["id"]] = data
    return found


def unique_alerts(out: pathlib.Path) -> dict[str, dict]:
    path = out / "alerts_summary.json"
    found: dict[str, dict] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                data = json.loads(line)
                found[data["id"]] = data
    return found


LEVEL_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def check_page(page, events, evidence_by_profile: dict[str, list[dict]], alerts: list[dict]) -> None:
    """The DOM of a loaded report against the output files; then the filters."""
    assert events.console_errors == [] and events.page_errors == [] and events.dialogs == []
    assert events.requests == []
    # Alerts table.
    assert page.locator('[data-row="alert"]').count() == min(len(alerts), LIMITS.alerts)
    if not alerts:
        assert page.locator("#alerts-empty").count() == 1
    # Profile sections: as many as there are profiles (capped), each with its evidence (capped).
    profiles = set(evidence_by_profile) | {a["profile"] for a in alerts}
    sections = page.locator('[data-row="profile"]')
    assert sections.count() == min(len(profiles), LIMITS.profiles)
    if len(profiles) > LIMITS.profiles:
        assert page.locator("#profiles-more").text_content().startswith(f"{len(profiles) - LIMITS.profiles} more profiles")
    # One read of the DOM for all sections (a round trip per element is slow on big pages).
    layout = page.eval_on_selector_all(
        '[data-row="profile"]',
        """sections => sections.map(s => [s.getAttribute('data-profile'),
            Array.from(s.querySelectorAll('[data-row="evidence"]')).map(a => a.id)])""",
    )
    shown_evidence = 0
    for profile, anchors in layout:
        expected = evidence_by_profile.get(profile, [])
        assert len(anchors) == min(len(expected), LIMITS.evidence_per_profile), profile
        assert len(set(anchors)) == len(anchors)
        shown_evidence += len(anchors)
    assert len({profile for profile, _ in layout}) == len(layout)
    # Timeline: one row per profile with evidence (capped), each a profile of the data.
    with_evidence = {p for p, rows in evidence_by_profile.items() if rows}
    rows = page.eval_on_selector_all('[data-row="timeline"]', "rows => rows.map(r => r.getAttribute('data-profile'))")
    assert len(rows) == min(len(with_evidence), LIMITS.timeline_rows)
    assert set(rows) <= with_evidence
    assert page.locator("#timeline-svg").count() == (1 if with_evidence else 0)
    assert visible_count(page, '[data-row="evidence"]') == shown_evidence
    if not shown_evidence:
        return

    # Filter by profile: its section only, its alerts only.
    first = layout[0][0]
    page.select_option("#f-profile", first)
    assert visible_count(page, '[data-row="profile"]') == 1
    assert visible_count(page, '[data-row="evidence"]') == min(len(evidence_by_profile[first]), LIMITS.evidence_per_profile)
    assert visible_count(page, '[data-row="alert"]') == min(sum(a["profile"] == first for a in alerts), LIMITS.alerts)
    assert visible_count(page, '[data-row="timeline"]') <= 1
    page.select_option("#f-profile", "")

    # Filter by threat level: only evidence at or above it.
    levels = [int(level) for level in page.eval_on_selector_all('[data-row="evidence"]', "els => els.map(e => e.getAttribute('data-level'))")]
    for threshold in (2, 3):
        page.select_option("#f-level", str(threshold))
        assert visible_count(page, '[data-row="evidence"]') == sum(level >= threshold for level in levels)
        assert visible_count(page, f'[data-row="evidence"][data-level="{threshold - 1}"]') == 0
    page.select_option("#f-level", "0")

    # Filter by type: the most common type shown.
    types = Counter(page.eval_on_selector_all('[data-row="evidence"]', "els => els.map(e => e.getAttribute('data-type'))"))
    common, count = types.most_common(1)[0]
    page.select_option("#f-type", common)
    assert visible_count(page, '[data-row="evidence"]') == count
    assert visible_count(page, f'[data-row="evidence"]:not([data-type="{common}"])') == 0
    page.select_option("#f-type", "")

    # Text search: an evidence id finds that evidence (and those that name it as related).
    anchor = [a for _, anchors in layout for a in anchors][shown_evidence // 2]
    some_id = page.locator(f'[id="{anchor}"] .ev-id').text_content()
    page.fill("#f-text", some_id)
    assert page.locator(f'[id="{anchor}"]').is_visible()
    found = page.eval_on_selector_all('[data-row="evidence"]:not([hidden])', "els => els.map(e => e.textContent)")
    assert 1 <= len(found) <= 11 and all(some_id in text for text in found)
    assert visible_count(page, '[data-row="evidence"]') == len(found)
    page.click("#f-clear")
    assert visible_count(page, '[data-row="evidence"]') == shown_evidence
    status = page.locator("#f-status").text_content()
    assert f"{shown_evidence} of {shown_evidence} evidence" in status
    assert events.console_errors == [] and events.page_errors == [] and events.requests == []


def run_with_report(folder: pathlib.Path, out: pathlib.Path) -> None:
    assert main(["run", "-f", str(folder), "-o", str(out), "--offline", "-q", "--report"]) == 0


def check_flowalerts_report(out: pathlib.Path, tmp_path: pathlib.Path) -> None:
    evidence = unique_evidence(out)
    by_profile: dict[str, list[dict]] = defaultdict(list)
    for data in evidence.values():
        by_profile[data["profile"]].append(data)
    alerts = list(unique_alerts(out).values())
    with open_report(out / "report.html") as (page, events):
        check_page(page, events, by_profile, alerts)
        screenshot(page, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000


@pytest.mark.parametrize("dataset", SLIPS_DATASETS)
def test_report_of_each_slips_dataset(dataset, datasets, browser, tmp_path):
    out = tmp_path / "out"
    run_with_report(datasets / dataset, out)
    check_flowalerts_report(out, tmp_path)


@pytest.mark.parametrize("dataset", REAL_DATASETS)
def test_report_of_each_real_capture(dataset, browser, tmp_path):
    need((REAL / dataset).is_dir(), f"{REAL / dataset} not found (../shared/datasets/real)")
    out = tmp_path / "out"
    run_with_report(REAL / dataset, out)
    check_flowalerts_report(out, tmp_path)


@pytest.mark.parametrize("dataset", [*SLIPS_DATASETS])
def test_report_of_slips_own_alerts_json(dataset, datasets, browser, tmp_path):
    """Slips's alerts.json of the dataset (IDMEFv2, ../shared/slips/traffic), with the flows from -f."""
    alerts_json = SLIPS_TRAFFIC / dataset / "alerts.json"
    need(alerts_json.is_file(), f"{alerts_json} not found (../shared/slips/traffic)")
    html = tmp_path / "slips-report.html"
    assert main(["report", str(alerts_json.parent), "-f", str(datasets / dataset), "-o", str(html)]) == 0
    events_by_profile: dict[str, list[dict]] = defaultdict(list)
    incidents = []
    for line in alerts_json.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        data = json.loads(line)
        if data["Status"] == "Event":
            events_by_profile[data["Source"][0]["IP"]].append(data)
        elif data["Status"] == "Incident":
            incidents.append({"profile": data["Source"][0]["IP"]})
    with open_report(html) as (page, events):
        check_page(page, events, events_by_profile, incidents)
        note = page.locator("#run .note").first.text_content()
        if events_by_profile or incidents:
            assert note.startswith("This is Slips's own alerts.json")
        else:  # test16: Slips wrote an empty alerts.json
            assert note == "alerts.json is empty and this folder has no run.json: no evidence, and nothing about the run, to show"
        screenshot(page, tmp_path / "report.png")


# --- a hostile capture ------------------------------------------------------------------

T0 = 1_600_000_000.0
CLIENT, SERVER = "192.168.1.10", "93.184.216.34"
# Each payload would leave a trace if it ran: a global, a console message, a dialog.
SCRIPT_SNI = "<script>window.__pwned='sni';console.log('PWNED sni');alert('PWNED sni')</script>.example"
IMG_HOST = "\"><img src=x onerror=\"window.__pwned='host';console.log('PWNED host');alert('PWNED host')\">"
SVG_AGENT = "<svg onload=\"window.__pwned='agent';alert('PWNED agent')\"></svg>"
ESCAPES_DNS = "\x1b[31mred\x1b[0m\x07<script>alert('PWNED dns')</script>.example"
WEIRD_METHOD = "<iframe srcdoc=\"<script>parent.__pwned='method'</script>\"></iframe>"


def hostile_capture(folder: pathlib.Path) -> None:
    """Zeek JSON logs whose strings are hostile, shaped so that evidence carries them:
    a self-signed certificate (SNI), an invalid DNS answer (the query name), a weird
    HTTP method; the HTTP request shares the TLS connection's uid (its flows)."""
    folder.mkdir(parents=True)
    ends = {"id.orig_h": CLIENT, "id.orig_p": 50000, "id.resp_h": SERVER, "id.resp_p": 443}

    def lines(*records: dict) -> str:
        return "".join(json.dumps(record) + "\n" for record in records)

    (folder / "conn.log").write_text(lines(
        {"ts": T0, "uid": "CHostile1", **ends, "proto": "tcp", "service": "ssl", "duration": 1.0, "orig_bytes": 100,
         "resp_bytes": 2000, "conn_state": "SF", "history": "ShADadFf", "orig_pkts": 5, "resp_pkts": 5},
        {"ts": T0 + 1, "uid": "DHostile2", "id.orig_h": CLIENT, "id.orig_p": 53000, "id.resp_h": "8.8.8.8",
         "id.resp_p": 53, "proto": "udp", "service": "dns", "duration": 0.01, "conn_state": "SF"},
    ))
    (folder / "ssl.log").write_text(lines(
        {"ts": T0 + 0.1, "uid": "CHostile1", **ends, "version": "TLSv12", "server_name": SCRIPT_SNI,
         "validation_status": "self signed certificate", "subject": IMG_HOST, "established": True},
    ))
    (folder / "http.log").write_text(lines(
        {"ts": T0 + 0.2, "uid": "CHostile1", **ends, "method": "GET", "host": IMG_HOST, "uri": "/\x1b]0;title\x07",
         "user_agent": SVG_AGENT, "status_code": 200},
    ))
    (folder / "dns.log").write_text(lines(
        {"ts": T0 + 1, "uid": "DHostile2", "id.orig_h": CLIENT, "id.orig_p": 53000, "id.resp_h": "8.8.8.8",
         "id.resp_p": 53, "proto": "udp", "query": ESCAPES_DNS, "qtype_name": "A", "rcode_name": "NOERROR",
         "answers": ["0.0.0.0"], "TTLs": [60.0]},
    ))
    (folder / "weird.log").write_text(lines(
        {"ts": T0 + 2, "uid": "CHostile1", **ends, "name": "unknown_HTTP_method", "addl": WEIRD_METHOD,
         "notice": False, "peer": "zeek"},
    ))


def test_a_hostile_capture_runs_nothing_and_is_shown_literally(browser, tmp_path):
    zeek, out = tmp_path / "zeek", tmp_path / "out"
    hostile_capture(zeek)
    run_with_report(zeek, out)
    types = Counter(e["evidence_type"] for e in unique_evidence(out).values())
    assert {"SELF_SIGNED_CERTIFICATE", "INVALID_DNS_RESOLUTION", "WEIRD_HTTP_METHOD"} <= set(types)
    with open_report(out / "report.html") as (page, events):
        # The user agent is only in the flows: the search finds it before they are opened.
        page.fill("#f-text", "svg onload")
        assert visible_count(page, '[data-row="evidence"]') == 4  # the evidence of uid CHostile1 (both profiles)
        page.click("#f-clear")
        page.locator("details.flows").evaluate_all("els => els.forEach(e => e.open = true)")
        page.wait_for_function("() => document.querySelectorAll('tr.flow').length > 0")
        page.wait_for_timeout(300)
        flows = page.eval_on_selector_all("tr.flow", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
        assert ["CHostile1", "http", "2020-09-13 12:26:40", f"{CLIENT}:50000 -> {SERVER}:443"] in [row[:4] for row in flows]
        http_fields = page.eval_on_selector_all(
            'tr.flow[data-log="http"] .kv', "items => items.map(i => [i.querySelector('.k').textContent, i.querySelector('.v').textContent])")
        assert ["host", IMG_HOST] in http_fields and ["user_agent", SVG_AGENT] in http_fields
        assert page.evaluate("() => window.__pwned === undefined")
        assert events.dialogs == [] and events.page_errors == [] and events.requests == []
        assert not any("PWNED" in text for _, text in events.console)
        assert events.console_errors == []
        # No element of the data's making exists.
        assert page.locator("img, iframe, svg[onload], body script:not([type]):not(:last-of-type)").count() == 0
        assert page.locator("script").count() == 2  # the JSON block and our script
        text = page.locator("body").inner_text()
        assert SCRIPT_SNI.lower().split(".example")[0] in text.lower() or SCRIPT_SNI in text
        assert IMG_HOST in text
        assert SVG_AGENT in text
        assert "\\x1b[31mred\\x1b[0m\\x07" in text  # terminal escapes shown, not acting
        assert "\x1b" not in text and "\x07" not in text
        screenshot(page, tmp_path / "hostile.png", full_page=True)


# --- other hosts: distributed and --follow -------------------------------------------------


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowalerts", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.redis
def test_report_of_a_distributed_run(datasets, redis_url, key_prefix, browser, tmp_path):
    folder = datasets / "test14-malicious-zeek-dir"
    config = tmp_path / "slips.yaml"
    config.write_text(f"redis:\n  key_prefix: {key_prefix}\n")
    secret = redis_url.replace("redis://", "redis://:topsecret@") if "@" not in redis_url else redis_url
    done = _cli("run", "-f", str(folder), "-o", str(tmp_path / "out"), "--offline", "-q", "-c", str(config),
                "--redis", secret, "--workers", "1", "--report")
    assert done.returncode == 0, done.stderr
    run_json = (tmp_path / "out" / "run.json").read_text()
    info = json.loads(run_json)
    assert (info["distributed"], info["workers"], info["mode"]) == (True, 1, "replay")
    assert "topsecret" not in run_json
    assert info["logs"]["conn"]["read"] == info["logs"]["conn"]["processed"] > 0
    check_flowalerts_report(tmp_path / "out", tmp_path)


def test_report_of_a_follow_run(browser, tmp_path):
    zeek, out = tmp_path / "zeek", tmp_path / "out"
    hostile_capture(zeek)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowalerts", "run", "-f", str(zeek), "-o", str(out), "--offline", "--follow",
         "--poll-interval", "0.05", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (out / "run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        # While it runs: run.json is a snapshot, and a report can be made of it.
        snapshot = json.loads((out / "run.json").read_text())
        assert (snapshot["mode"], snapshot["running"], snapshot["finished"]) == ("follow", True, "")
        live = _cli("report", str(out), "-o", str(tmp_path / "live.html"))
        assert live.returncode == 0, live.stderr
        with open_report(tmp_path / "live.html") as (page, events):
            facts = page.eval_on_selector_all("#run-facts dt, #run-facts dd", "els => els.map(e => e.textContent)")
            assert facts[facts.index("status") + 1] == "running (a snapshot of a live run)"
            assert events.console_errors == [] and events.requests == []
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    info = json.loads((out / "run.json").read_text())
    assert (info["mode"], info["interrupted"], info["running"]) == ("follow", True, False)
    assert sum(counts["read"] for counts in info["logs"].values()) == 6
    done = _cli("report", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"report: {out / 'report.html'} (")
    check_flowalerts_report(out, tmp_path)


def test_report_of_a_folder_that_is_no_output_is_one_line_and_exit_2(tmp_path):
    done = _cli("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"flowalerts: error: no run.json or alerts.json in {tmp_path}: not the output folder of a run"
    ]


def test_readme_screenshot_script(browser, tmp_path):
    """``python scripts/report_screenshot.py`` (docs/report.png) runs, with the tests' screenshot code."""
    need((REAL / "ctu-normal44-day2").is_dir(), "../shared/datasets/real/ctu-normal44-day2 not found")
    script = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "report_screenshot.py"
    png = tmp_path / "report.png"
    done = subprocess.run([sys.executable, str(script), "--png", str(png)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "report_screenshot(" in script.read_text()


def test_report_screenshot_helper_writes_the_first_screen(browser, datasets, tmp_path):
    out = tmp_path / "out"
    run_with_report(datasets / "test14-malicious-zeek-dir", out)
    events = report_screenshot(out / "report.html", tmp_path / "shot.png")
    assert events.console_errors == [] and events.requests == []
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_report_load_benchmark_runs(browser, tmp_path):
    """``benchmarks/report_load.py`` (BENCHMARKS.md's report figures) on a small generated run."""
    bench = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"
    logs, out = tmp_path / "logs", tmp_path / "out"
    subprocess.run([sys.executable, str(bench / "generate.py"), "-n", "3000", "--seed", "1", "-o", str(logs)],
                   check=True, capture_output=True, timeout=120)
    assert main(["run", "-f", str(logs), "-o", str(out), "--offline", "-q"]) == 0
    done = subprocess.run([sys.executable, str(bench / "report_load.py"), str(out), "--loads", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    evidence = len(unique_evidence(out))
    assert done.stdout.startswith(f"| {evidence:,} | ")
    assert "load 1: " in done.stderr and (out / "report.html").exists()
