"""The Zeek scripts in zeek-scripts/ and the readers must not drift apart:
every ``&log`` field a script adds to a log is a Zeek field name the reader
of that log maps (the ``zeek`` dict of the record classes). Zeek itself is not
installed here, so the scripts are parsed as text."""

from __future__ import annotations

import pathlib
import re

import pytest

from flowalerts.records import BY_LOG_TYPE

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "zeek-scripts"

# Zeek record types of the logs flowalerts reads.
KNOWN_RECORDS = {
    "SSL::Info": "ssl",
    "Conn::Info": "conn",
    "DNS::Info": "dns",
    "HTTP::Info": "http",
    "SSH::Info": "ssh",
    "SMTP::Info": "smtp",
    "Notice::Info": "notice",
    "Files::Info": "files",
    "X509::Info": "x509",
    "Software::Info": "software",
    "Weird::Info": "weird",
    "Tunnel::Info": "tunnel",
}
CONN_ID = ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")

_MODULE = re.compile(r"^module\s+(\w+)\s*;", re.M)
_REDEF = re.compile(r"redef\s+record\s+([\w:]+)\s*\+=\s*\{(.*?)\};", re.S)
_TYPE = re.compile(r"type\s+(\w+)\s*:\s*record\s*\{(.*?)\};", re.S)
_STREAM = re.compile(r"\$columns\s*=\s*([\w:]+)\s*,\s*\$path\s*=\s*\"(\w+)\"")
_FIELD = re.compile(r"^\s*(\w+)\s*:\s*([\w: ]+?)\s*(&[^;]*)?;", re.M)


def logged_fields(text: str) -> dict[str, list[str]]:
    """log type -> Zeek field names the script adds with ``&log``."""
    module = (_MODULE.search(text) or [None, ""])[1]
    streams = {}
    for columns, path in _STREAM.findall(text):
        streams[columns] = path
        streams[columns.split("::")[-1]] = path
    out: dict[str, list[str]] = {}
    blocks = [(name, body) for name, body in _REDEF.findall(text)]
    blocks += [(f"{module}::{name}" if module else name, body) for name, body in _TYPE.findall(text)]
    for name, body in blocks:
        log = KNOWN_RECORDS.get(name) or streams.get(name) or streams.get(name.split("::")[-1])
        if log is None:
            continue
        for field, ftype, attrs in _FIELD.findall(body):
            if "&log" not in (attrs or ""):
                continue
            names = CONN_ID if ftype.strip() == "conn_id" else (field,)
            out.setdefault(log, []).extend(names)
    return out


def all_fields() -> dict[str, dict[str, list[str]]]:
    return {p.name: logged_fields(p.read_text()) for p in sorted(SCRIPTS.glob("*.zeek"))}


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.zeek")))
def test_every_logged_field_is_mapped_by_the_reader(script):
    for log, fields in all_fields()[script].items():
        assert log in BY_LOG_TYPE, f"{script} writes {log}.log, which no reader handles"
        mapped = set(BY_LOG_TYPE[log].zeek.values())
        missing = [f for f in fields if f not in mapped]
        assert not missing, f"{script}: {log}.log fields {missing} are not mapped by the reader"


def test_parser_finds_the_fields_we_rely_on():
    found = all_fields()
    assert found["ja3.zeek"] == {"ssl": ["ja3", "ja3s"]}
    assert found["detect_doh.zeek"] == {"ssl": ["is_DoH"]}
    assert found["login.zeek"] == {
        "login": ["ts", "uid", *CONN_ID, "proto", "success", "confused", "user", "client_user"]
    }


def test_parser_catches_an_unmapped_field():
    text = "redef record SSL::Info += {\n\tja3_full: string &log &optional;\n\tnot_logged: count;\n};"
    assert logged_fields(text) == {"ssl": ["ja3_full"]}
    assert "ja3_full" not in BY_LOG_TYPE["ssl"].zeek.values()


def test_load_file_loads_every_script():
    loaded = set(re.findall(r"^@load\s+\./([\w-]+)", (SCRIPTS / "__load__.zeek").read_text(), re.M))
    assert loaded == {p.stem for p in SCRIPTS.glob("*.zeek") if p.name != "__load__.zeek"}


def test_readme_documents_running_zeek():
    text = (SCRIPTS / "README.md").read_text()
    assert "zeek -C -r" in text and "flowalerts run" in text
