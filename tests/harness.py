"""Test helpers: typed records with readable defaults, and a harness that runs
one detection (plus exactly the learners it declares it needs) through the
real profiler, clock and driver, re-raising any detection error.

Example::

    h = Harness(LongConnection)
    h.feed(conn(dur=2000))
    assert h.evidence() == [...]

``feed`` processes records in the order given (use ``in_zeek_order`` for the
order Zeek writes them); ``advance(ts)`` moves flow time by hand;
``evidence()`` ends the input and returns the final evidence (an update of the
same id replaces the earlier version).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec

from flowalerts.catalog import config_sections
from flowalerts.core.config import Config, parse_config
from flowalerts.core.evidence import Evidence
from flowalerts.core.messages import End
from flowalerts.core.records import (
    ArpRecord,
    ConnRecord,
    DhcpRecord,
    DnsRecord,
    FilesRecord,
    HttpRecord,
    LoginRecord,
    NoticeRecord,
    Record,
    SmtpRecord,
    SoftwareRecord,
    SshRecord,
    SslRecord,
    TunnelRecord,
    WeirdRecord,
    X509Record,
)
from flowalerts.engine.detection import Detection, Learner
from flowalerts.engine.driver import ModuleDriver
from flowalerts.engine.profiler import Profiler
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.io.input.zeek import ZeekFileReader
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups, NullLookups

T0 = 1_600_000_000.0
CLIENT = "192.168.1.10"
SERVER = "93.184.216.34"


def config(**sections: Any) -> Config:
    """A Config with some sections overridden, e.g. config(flow_alerts={"long_connection": {"threshold": 10}})."""
    return parse_config(sections, sections=config_sections())[0]


class Harness:
    def __init__(
        self,
        *detections: type[Detection[Any, Any]],
        learners: Iterable[type[Learner[Any]]] | None = None,
        cfg: Config | None = None,
        knowledge: Knowledge | None = None,
        lookups: Lookups | None = None,
        available_logs: set[str] | None = None,
        strict: bool = True,
        live: bool = False,
        wall_clock: Any = None,
    ) -> None:
        self.config = cfg or config()
        self.notes: list[str] = []
        self.driver = ModuleDriver(
            self.config,
            knowledge or Knowledge.empty(),
            lookups or NullLookups(),
            detections=detections or None,
            learners=learners,
            available_logs=available_logs,
            strict=strict,
            live=live,
            wall_clock=wall_clock or (lambda: 0.0),
            notify=self.notes.append,
        )
        self.profiler = Profiler.from_config(self.config)
        self.emitted: list[Evidence] = []
        self.finished = False

    def _run(self, items: list[Any]) -> None:
        self.emitted.extend(self.driver.feed(items))

    def feed(self, *records: Record) -> Harness:
        for record in records:
            self._run(self.profiler.assign(record))
        return self

    def advance(self, end_time: float) -> Harness:
        """Flow time reaches ``end_time`` (as if a record ended then)."""
        self._run(self.profiler.flush())
        self._run(self.profiler.observe_time(end_time))
        return self

    def finish(self) -> Harness:
        if not self.finished:
            self._run([*self.profiler.finish(), End()])
            self.finished = True
        return self

    def evidence(self, evidence_type: str | None = None) -> list[Evidence]:
        """The final evidence (after end of input), updates collapsed by id."""
        self.finish()
        return [e for e in final(self.emitted) if evidence_type is None or e.evidence_type == evidence_type]

    def so_far(self) -> list[Evidence]:
        """Evidence emitted until now (no end of input), updates collapsed.

        Records held while the profiler chooses T0 (the first
        ``time.t0_lookahead``) are released first."""
        self._run(self.profiler.flush())
        return final(self.emitted)


def final(evidences: Iterable[Evidence]) -> list[Evidence]:
    """Evidence by id, a later version replacing an earlier one, in first-seen order."""
    by_id: dict[str, Evidence] = {}
    for evidence in evidences:
        by_id[evidence.id] = evidence
    return list(by_id.values())


def summary(evidence: Evidence) -> tuple[Any, ...]:
    """The decided part of an evidence, for exact comparisons in tables."""
    return (
        evidence.evidence_type,
        evidence.profile,
        evidence.timewindow,
        evidence.attacker.value,
        evidence.victim.value if evidence.victim else None,
        evidence.threat_level.value,
        evidence.confidence,
        evidence.count,
        msgspec.to_builtins(evidence.details),
    )


def in_zeek_order(records: Iterable[Record]) -> list[Record]:
    """The order Zeek writes records: by end time (``ts + duration`` for conn)."""
    return sorted(records, key=lambda record: record.end_time)


def from_zeek(record_type: type[Record], fields: dict[str, Any]) -> Any:
    """A record parsed by the real reader from a Zeek JSON line with Zeek's own
    field names (``{"id.orig_h": ..., "cert_chain_fps": [...]}``), for tests of
    a given Zeek version's log shape."""
    reader = ZeekFileReader("<test>", record_type, InputWarnings(emit=lambda text: None))
    record = reader.parse_line(json.dumps(fields).encode())
    if record is None:
        raise ValueError(f"the reader rejected the line: {dict(reader.skipped)}")
    return record


def _record(cls: type[Record], defaults: dict[str, Any], overrides: dict[str, Any]) -> Any:
    return cls(**{**defaults, **overrides})


def conn(**kw: Any) -> ConnRecord:
    defaults = dict(starttime=T0, uid="Cconn1", saddr=CLIENT, sport=50000, daddr=SERVER, dport=80,
                    proto="tcp", appproto="", dur=1.0, sbytes=100, dbytes=1000, state="SF", history="ShADadFf",
                    spkts=5, dpkts=5)
    return _record(ConnRecord, defaults, kw)


def dns(**kw: Any) -> DnsRecord:
    defaults = dict(starttime=T0, uid="Cdns1", saddr=CLIENT, sport=53000, daddr="192.168.1.1", dport=53,
                    proto="udp", query="example.com", qclass_name="C_INTERNET", qtype_name="A",
                    rcode_name="NOERROR", answers=[SERVER], TTLs=[300.0])
    return _record(DnsRecord, defaults, kw)


def ssl(**kw: Any) -> SslRecord:
    defaults = dict(starttime=T0, uid="Cssl1", saddr=CLIENT, sport=50001, daddr=SERVER, dport=443,
                    version="TLSv12", server_name="example.com", established=True)
    return _record(SslRecord, defaults, kw)


def http(**kw: Any) -> HttpRecord:
    defaults = dict(starttime=T0, uid="Chttp1", saddr=CLIENT, sport=50002, daddr=SERVER, dport=80,
                    method="GET", host="example.com", uri="/", version="1.1", user_agent="curl/8",
                    request_body_len=0, response_body_len=100, status_code=200, status_msg="OK")
    return _record(HttpRecord, defaults, kw)


def ssh(**kw: Any) -> SshRecord:
    defaults = dict(starttime=T0, uid="Cssh1", saddr=CLIENT, sport=50003, daddr=SERVER, dport=22,
                    version=2, auth_success=None, auth_attempts=1, client="SSH-2.0-OpenSSH_8.9",
                    server="SSH-2.0-OpenSSH_8.4")
    return _record(SshRecord, defaults, kw)


def smtp(**kw: Any) -> SmtpRecord:
    defaults = dict(starttime=T0, uid="Csmtp1", saddr=CLIENT, sport=50004, daddr=SERVER, dport=25,
                    last_reply="250 OK")
    return _record(SmtpRecord, defaults, kw)


def notice(**kw: Any) -> NoticeRecord:
    defaults = dict(starttime=T0, uid="", saddr=CLIENT, daddr=SERVER, note="Scan::Port_Scan", msg="", sub="")
    return _record(NoticeRecord, defaults, kw)


def software(**kw: Any) -> SoftwareRecord:
    defaults = dict(starttime=T0, saddr=CLIENT, sport=0, software="SSH::CLIENT", software_name="OpenSSH",
                    version_major=8, version_minor=9, unparsed_version="OpenSSH_8.9")
    return _record(SoftwareRecord, defaults, kw)


def tunnel(**kw: Any) -> TunnelRecord:
    defaults = dict(starttime=T0, uid="Ctun1", saddr=CLIENT, sport=0, daddr=SERVER, dport=0,
                    tunnel_type="Tunnel::GRE", action="Tunnel::DISCOVER")
    return _record(TunnelRecord, defaults, kw)


def weird(**kw: Any) -> WeirdRecord:
    defaults = dict(starttime=T0, uid="Cweird1", saddr=CLIENT, sport=50005, daddr=SERVER, dport=80,
                    name="unknown_HTTP_method", addl="FOO")
    return _record(WeirdRecord, defaults, kw)


def files(**kw: Any) -> FilesRecord:
    defaults = dict(starttime=T0, uid="Ffile1", saddr=SERVER, daddr=CLIENT, source="SSL", sha1="",
                    conn_uids=["Cssl1"])
    return _record(FilesRecord, defaults, kw)


def x509(**kw: Any) -> X509Record:
    defaults = dict(starttime=T0, uid="Fcert1", fingerprint="", subject="CN=example.com", issuer="CN=Example CA",
                    not_valid_before=T0 - 86400, not_valid_after=T0 + 86400 * 90, san_dns=["example.com"])
    return _record(X509Record, defaults, kw)


def login(**kw: Any) -> LoginRecord:
    defaults = dict(starttime=T0, uid="Clogin1", saddr=CLIENT, sport=50006, daddr=SERVER, dport=23,
                    proto="telnet", success=True, confused=False, user="root")
    return _record(LoginRecord, defaults, kw)


def dhcp(**kw: Any) -> DhcpRecord:
    defaults = dict(starttime=T0, uid="Cdhcp1", saddr=CLIENT, daddr="192.168.1.1", mac="aa:bb:cc:dd:ee:ff",
                    assigned_addr=CLIENT)
    return _record(DhcpRecord, defaults, kw)


def arp(**kw: Any) -> ArpRecord:
    defaults = dict(starttime=T0, uid="", saddr=CLIENT, daddr="192.168.1.1", operation="request",
                    smac="aa:bb:cc:dd:ee:ff", dmac="ff:ff:ff:ff:ff:ff")
    return _record(ArpRecord, defaults, kw)
