"""Zeek output as deployments write it (issue 22), on real Zeek logs.

Each layout is built on the fly in a temporary folder (links, renames, or
rewritten copies of the shared datasets; nothing is copied into the repo) and
must give exactly the evidence of the original:

* ``wrccdc2018-zeek6-json`` (JSON Streaming Logs, ``*.json.gz``) read as
  published == the same files linked as ``*.log.gz``, every line of every log
  we use read;
* ``ctu-normal44-day2`` (``*.log.labeled``) read as a folder == linked as ``*.log``;
* a shared Slips folder rewritten with the ``_`` scope separator, or with
  renamed fields plus ``input.field_names``, == its golden alerts.json;
* a two-day archive tree (one folder per day, Zeek's rotated names, gzip)
  == the flat folder (its golden alerts.json).
"""

from __future__ import annotations

import gzip
import json
import pathlib
import shutil

import pytest

from flowalerts.catalog import config_sections
from flowalerts.cli.main import main
from flowalerts.core.config import parse_config
from flowalerts.core.records import BY_LOG_TYPE
from flowalerts.hosts.standalone import RunOptions, RunSummary, run
from flowalerts.io.input.folder import log_type_of
from flowalerts.knowledge.lookups import NullLookups
from tests.conftest import GOLDEN, SHARED, need

REAL = SHARED / "datasets" / "real"
WRCCDC = REAL / "wrccdc2018-zeek6-json"
CTU = REAL / "ctu-normal44-day2"
# Zeek's Log::default_field_name_map of its own btest (field-name-map), and ts renamed as Elasticsearch likes it.
RENAMED = {"id.orig_h": "src", "id.orig_p": "src_port", "id.resp_h": "dst", "id.resp_p": "dst_port", "ts": "@timestamp"}


def run_folder(folder: pathlib.Path, outdir: pathlib.Path, **input_section: object) -> tuple[RunSummary, bytes, list[str]]:
    config, _ = parse_config({"input": input_section} if input_section else {}, sections=config_sections())
    emitted: list[str] = []
    summary = run(RunOptions(path=str(folder), outdir=str(outdir), config=config, offline=True, lookups=NullLookups(),
                             emit=emitted.append))
    assert not summary.health.degraded, summary.health.first_traceback
    assert summary.complete
    return summary, (outdir / "alerts.json").read_bytes(), emitted


def linked(folder: pathlib.Path, target: pathlib.Path, rename: dict[str, str]) -> pathlib.Path:
    """``target``: links to the files of ``folder``, their endings renamed (``.json.gz`` -> ``.log.gz``)."""
    target.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        name = path.name
        for published, ours in rename.items():
            if name.endswith(published):
                name = name[: -len(published)] + ours
                break
        (target / name).symlink_to(path)
    return target


def data_lines(path: pathlib.Path) -> int:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip() and not line.lstrip().startswith("#"))


def test_wrccdc_json_streaming_logs_are_read_as_published(tmp_path):
    need(WRCCDC.is_dir(), f"{WRCCDC} not found (../shared/datasets/real)")
    published, published_json, notes = run_folder(WRCCDC, tmp_path / "published")
    renamed_folder = linked(WRCCDC, tmp_path / "renamed", {".json.gz": ".log.gz"})
    renamed, renamed_json, _ = run_folder(renamed_folder, tmp_path / "out-renamed")
    assert published_json == renamed_json
    assert published_json.count(b"\n") == 969
    # Every line of every log we use is read, none skipped.
    expected = {
        log_type_of(path.name): data_lines(path) for path in WRCCDC.iterdir() if log_type_of(path.name) in BY_LOG_TYPE
    }
    assert expected == {"dns": 53615, "notice": 207, "smtp": 1188, "software": 376, "ssh": 22, "ssl": 49474,
                        "weird": 24202, "x509": 348}
    assert published.read == renamed.read == published.processed == expected
    assert not any(published.skipped.values())
    assert not [note for note in notes if "warning" in note]


def test_wrccdc_single_json_streaming_file_by_its_path_field(tmp_path):
    need(WRCCDC.is_dir(), f"{WRCCDC} not found (../shared/datasets/real)")
    # A name that says nothing: the records' _path says ssh.
    (tmp_path / "sensor-export.json.gz").symlink_to(WRCCDC / "ssh.json.gz")
    summary, _, _ = run_folder(tmp_path / "sensor-export.json.gz", tmp_path / "out")
    assert summary.read == {"ssh": 22}


def test_ctu_labelled_folder_is_read_directly(tmp_path):
    need(CTU.is_dir(), f"{CTU} not found (../shared/datasets/real)")
    outdir = tmp_path / "cli"
    assert main(["run", "-f", str(CTU), "-o", str(outdir), "--offline", "-q"]) == 0
    direct = (outdir / "alerts.json").read_bytes()
    _, through_links, _ = run_folder(linked(CTU, tmp_path / "renamed", {".log.labeled": ".log"}), tmp_path / "out")
    assert direct == through_links
    assert direct.count(b"\n") == 2861


def lines_of(path: pathlib.Path) -> list[str]:
    """The lines of a log, split at newlines only (Zeek's fields may hold other line breaks),
    the last one ended too (the halves of a log are put together again)."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [line if line.endswith("\n") else line + "\n" for line in handle]


def rewrite(folder: pathlib.Path, target: pathlib.Path, names) -> pathlib.Path:
    """A copy of ``folder`` with its field names rewritten by ``names`` (TSV header or JSON keys)."""
    target.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        out = []
        for line in lines_of(path):
            stripped = line.lstrip()
            if stripped.startswith("#fields"):
                separator = "\t"
                out.append(separator.join(names(name) for name in stripped.rstrip("\n").split(separator)) + "\n")
            elif stripped.startswith("{"):
                out.append(json.dumps({names(k): v for k, v in json.loads(stripped).items()}) + "\n")
            else:
                out.append(line)
        (target / path.name).write_text("".join(out), encoding="utf-8")
    return target


@pytest.mark.parametrize("dataset", ["test9-mixed-zeek-dir", "test10-mixed-zeek-dir", "test14-malicious-zeek-dir"])
def test_underscore_scope_separator_gives_the_golden_evidence(datasets, tmp_path, dataset):
    folder = rewrite(datasets / dataset, tmp_path / "in", lambda name: name.replace(".", "_"))
    assert "id_orig_h" in (folder / "conn.log").read_text()
    _, produced, _ = run_folder(folder, tmp_path / "out")
    assert produced == (GOLDEN / f"{dataset}.alerts.json").read_bytes()


@pytest.mark.parametrize("dataset", ["test9-mixed-zeek-dir", "test10-mixed-zeek-dir", "test14-malicious-zeek-dir"])
def test_field_name_map_gives_the_golden_evidence(datasets, tmp_path, dataset):
    folder = rewrite(datasets / dataset, tmp_path / "in", lambda name: RENAMED.get(name, name))
    assert "src_port" in (folder / "conn.log").read_text()
    field_names = {name: zeek for zeek, name in RENAMED.items()}
    _, produced, _ = run_folder(folder, tmp_path / "out", field_names=field_names)
    assert produced == (GOLDEN / f"{dataset}.alerts.json").read_bytes()
    # Without the map nothing is read: every line misses its fields (counted, never a crash).
    config, _ = parse_config({}, sections=config_sections())
    summary = run(RunOptions(path=str(folder), outdir=str(tmp_path / "unmapped"), config=config, offline=True,
                             lookups=NullLookups(), emit=lambda text: None))
    assert sum(summary.read.values()) < sum(summary.skipped.values())


def archive_tree(folder: pathlib.Path, root: pathlib.Path) -> pathlib.Path:
    """Zeek's archive layout: each log cut in two (in write order) into two day folders,
    under rotated names, the first day gzipped."""
    day1, day2 = root / "2024-01-01", root / "2024-01-02"
    day1.mkdir(parents=True)
    day2.mkdir()
    for path in sorted(folder.iterdir()):
        log_type = log_type_of(path.name)
        lines = lines_of(path)
        header = [line for line in lines if line.lstrip().startswith("#") and not line.lstrip().startswith("#close")]
        data = [line for line in lines if not line.lstrip().startswith("#")]
        half = len(data) // 2
        with gzip.open(day1 / f"{log_type}.23:00:00-00:00:00.log.gz", "wt", encoding="utf-8") as out:
            out.write("".join(header + data[:half]))
        (day2 / f"{log_type}.2024-01-02-00-00-00.log").write_text("".join(header + data[half:]), encoding="utf-8")
    return root


@pytest.mark.parametrize("dataset", ["test9-mixed-zeek-dir", "test10-mixed-zeek-dir"])
def test_two_day_archive_tree_equals_the_flat_folder(datasets, tmp_path, dataset):
    tree = archive_tree(datasets / dataset, tmp_path / "logs")
    assert sorted(str(p.relative_to(tree)) for p in tree.rglob("conn.*")) == [
        "2024-01-01/conn.23:00:00-00:00:00.log.gz",
        "2024-01-02/conn.2024-01-02-00-00-00.log",
    ]
    summary, produced, _ = run_folder(tree, tmp_path / "out")
    assert produced == (GOLDEN / f"{dataset}.alerts.json").read_bytes()
    flat, _, _ = run_folder(datasets / dataset, tmp_path / "flat")
    assert summary.read == flat.read


def test_published_folder_from_the_cli_with_json_names(datasets, tmp_path):
    # conn.json, dns.json ... (Zeek with LogAscii::use_json, files named by the exporter).
    folder = tmp_path / "json"
    folder.mkdir()
    for path in (datasets / "test9-mixed-zeek-dir").iterdir():
        shutil.copyfile(path, folder / path.name.replace(".log", ".json"))
    outdir = tmp_path / "out"
    assert main(["run", "-f", str(folder), "-o", str(outdir), "--offline", "-q"]) == 0
    assert (outdir / "alerts.json").read_bytes() == (GOLDEN / "test9-mixed-zeek-dir.alerts.json").read_bytes()
