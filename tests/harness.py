"""Test helpers: typed records with readable defaults, and an in-memory
pipeline (profiler -> FlowAlerts) whose flow clock the test advances by hand.

Example::

    pipe = Pipeline()
    pipe.feed(conn(dur=2000))
    assert pipe.types() == ["LONG_CONNECTION"]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from flowalerts.core.config import Config, parse_config
from flowalerts.core.evidence import Evidence
from flowalerts.core.facts import LearnedFacts
from flowalerts.core.knowledge import Knowledge
from flowalerts.core.lookups import Lookups, NullLookups
from flowalerts.core.messages import Message
from flowalerts.core.profiler import Profiler
from flowalerts.core.records import (
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
from flowalerts.core.state import State
from flowalerts.modules.flow_alerts.detector import DetectorContext
from flowalerts.modules.flow_alerts.module import FlowAlerts

T0 = 1_600_000_000.0
CLIENT = "192.168.1.10"
SERVER = "93.184.216.34"


def config(**sections: dict[str, Any]) -> Config:
    """A Config with some keys overridden, e.g. config(flow_alerts={"x": 1})."""
    return parse_config(sections)[0]


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
                    method="GET", host="example.com", uri="/", status_code=200)
    return _record(HttpRecord, defaults, kw)


def ssh(**kw: Any) -> SshRecord:
    defaults = dict(starttime=T0, uid="Cssh1", saddr=CLIENT, sport=50003, daddr=SERVER, dport=22, version=2)
    return _record(SshRecord, defaults, kw)


def smtp(**kw: Any) -> SmtpRecord:
    defaults = dict(starttime=T0, uid="Csmtp1", saddr=CLIENT, sport=50004, daddr=SERVER, dport=25)
    return _record(SmtpRecord, defaults, kw)


def notice(**kw: Any) -> NoticeRecord:
    defaults = dict(starttime=T0, uid="", saddr=CLIENT, daddr=CLIENT)
    return _record(NoticeRecord, defaults, kw)


def software(**kw: Any) -> SoftwareRecord:
    defaults = dict(starttime=T0, saddr=CLIENT, software="SSH::CLIENT", software_name="OpenSSH")
    return _record(SoftwareRecord, defaults, kw)


def tunnel(**kw: Any) -> TunnelRecord:
    defaults = dict(starttime=T0, uid="Ctun1", saddr=CLIENT, daddr=SERVER, tunnel_type="Tunnel::GRE",
                    action="Tunnel::DISCOVER")
    return _record(TunnelRecord, defaults, kw)


def weird(**kw: Any) -> WeirdRecord:
    defaults = dict(starttime=T0, uid="Cweird1", saddr=CLIENT, sport=50005, daddr=SERVER, dport=80)
    return _record(WeirdRecord, defaults, kw)


def files(**kw: Any) -> FilesRecord:
    defaults = dict(starttime=T0, uid="Ffile1", saddr=SERVER, daddr=CLIENT, tx_hosts=[SERVER], rx_hosts=[CLIENT],
                    source="SSL", analyzers=["SHA1", "MD5"])
    return _record(FilesRecord, defaults, kw)


def x509(**kw: Any) -> X509Record:
    return _record(X509Record, dict(starttime=T0, uid="Fcert1"), kw)


def login(**kw: Any) -> LoginRecord:
    defaults = dict(starttime=T0, uid="Clogin1", saddr=CLIENT, sport=40422, daddr=SERVER, dport=23, proto="telnet")
    return _record(LoginRecord, defaults, kw)


def dhcp(**kw: Any) -> DhcpRecord:
    defaults = dict(starttime=T0, uid="Cdhcp1", saddr=CLIENT, daddr="192.168.1.1", mac="aa:bb:cc:dd:ee:ff")
    return _record(DhcpRecord, defaults, kw)


class Pipeline:
    """Profiler + FlowAlerts in memory, no bus. Time advances with the records
    fed (their ``starttime``) or by hand with ``advance_to``."""

    def __init__(
        self,
        cfg: Config | None = None,
        knowledge: Knowledge | None = None,
        lookups: Lookups | None = None,
        live: bool = False,
        wall_clock: Any = None,
        t0: float = T0,
    ) -> None:
        self.config = cfg or Config()
        self.state = State()
        self.notes: list[str] = []
        self.ctx = DetectorContext(
            config=self.config,
            state=self.state,
            facts=LearnedFacts(self.state),
            knowledge=knowledge or Knowledge.empty(),
            lookups=lookups or NullLookups(),
            live=live,
            wall_clock=wall_clock or (lambda: 0.0),
            notify=self.notes.append,
        )
        self.module = FlowAlerts(self.ctx)
        self.profiler = Profiler(self.config)
        self.profiler.t0 = t0
        self.evidence: list[Evidence] = []

    @property
    def facts(self) -> LearnedFacts:
        return self.ctx.facts

    def feed(self, *records: Record, profile: str | None = None) -> list[Evidence]:
        """Process records in the order given; returns the new evidence."""
        new: list[Evidence] = []
        for record in records:
            msg = self.profiler.assign(record)
            if profile is not None:
                msg = Message(profile=profile, twid=msg.twid, flow=record)
            new.extend(self.module.handle(record.channel, msg))
            for closed in self.profiler.due_closures():
                new.extend(self.module.tw_closed(closed.profile, closed.twid))
            new.extend(self.module.advance())
        self.evidence.extend(new)
        return new

    def advance_to(self, ts: float) -> list[Evidence]:
        """Move the flow clock without a record (as if other logs moved it)."""
        self.module.watermark = max(self.module.watermark, ts)
        self.profiler.watermark = max(self.profiler.watermark, ts)
        new: list[Evidence] = []
        for closed in self.profiler.due_closures():
            new.extend(self.module.tw_closed(closed.profile, closed.twid))
        new.extend(self.module.advance())
        self.evidence.extend(new)
        return new

    def finish(self) -> list[Evidence]:
        new: list[Evidence] = []
        for closed in self.profiler.close_all():
            new.extend(self.module.tw_closed(closed.profile, closed.twid))
        new.extend(self.module.finish())
        self.evidence.extend(new)
        return new

    def of_type(self, name: str, evidences: Iterable[Evidence] | None = None) -> list[Evidence]:
        return [e for e in (self.evidence if evidences is None else evidences) if e.evidence_type.value == name]

    def types(self, evidences: Iterable[Evidence] | None = None) -> list[str]:
        return [e.evidence_type.value for e in (self.evidence if evidences is None else evidences)]

    def errors(self) -> dict[str, int]:
        return dict(self.module.errors)


def as_dict(evidence: Evidence) -> dict[str, Any]:
    return msgspec.to_builtins(evidence)
