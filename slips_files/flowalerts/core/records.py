"""Typed records, one per Zeek log type.

Attribute names are Slips's flow field names (``saddr``, ``dport``, ``sbytes``,
...), so the same objects travel on the bus in the shape a Slips-style profiler
publishes (spec 1.3.3/1.3.4). Each class declares:

* ``log_type``  - the Zeek log name (``conn`` for ``conn.log``);
* ``channel``   - the bus channel its messages are published on;
* ``zeek``      - Slips attribute -> Zeek field name, used by the readers.

Readers decode a Zeek line straight into a generated twin of the class whose
field names are the Zeek ones (see ``zeek_json_type``), so a line is parsed and
typed once, in C, by msgspec. Everything deeper works on these typed objects.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import msgspec
import msgspec.structs

# Zeek connection states that mean the handshake never completed (spec 1.4).
NOT_ESTABLISHED_STATES = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})
ESTABLISHED_STATES = frozenset({"S1", "SF", "S2", "S3", "RSTO", "RSTP", "OTH"})


class Record(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    """Base of every record: when it happened and between whom."""

    log_type: ClassVar[str] = ""
    channel: ClassVar[str] = ""
    zeek: ClassVar[dict[str, str]] = {}
    # Records whose saddr/daddr need not be IPs (software has no daddr ...).
    needs_saddr: ClassVar[bool] = True
    needs_daddr: ClassVar[bool] = True

    starttime: float
    uid: str = ""
    saddr: str = ""
    sport: int = 0
    daddr: str = ""
    dport: int = 0

    @property
    def end_time(self) -> float:
        """When Zeek could write this record (see ``flowalerts.core.clock``)."""
        return self.starttime


_ENDPOINTS = {
    "starttime": "ts",
    "uid": "uid",
    "saddr": "id.orig_h",
    "sport": "id.orig_p",
    "daddr": "id.resp_h",
    "dport": "id.resp_p",
}


class ConnRecord(Record):
    log_type: ClassVar[str] = "conn"
    channel: ClassVar[str] = "new_flow"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "proto": "proto",
        "appproto": "service",
        "dur": "duration",
        "sbytes": "orig_bytes",
        "dbytes": "resp_bytes",
        "state": "conn_state",
        "history": "history",
        "spkts": "orig_pkts",
        "dpkts": "resp_pkts",
        "smac": "orig_l2_addr",
        "dmac": "resp_l2_addr",
        "missed_bytes": "missed_bytes",
    }

    proto: str = ""
    appproto: str = ""
    dur: float = 0.0
    sbytes: int = 0
    dbytes: int = 0
    state: str = ""
    history: str = ""
    spkts: int = 0
    dpkts: int = 0
    smac: str = ""
    dmac: str = ""
    # Bytes Zeek knows it did not see (content gaps): its analyzers saw part of the payload.
    missed_bytes: int = 0

    @property
    def end_time(self) -> float:
        # Zeek writes a conn record when the connection ends.
        return self.starttime + self.dur

    @property
    def is_established(self) -> bool:
        """Slips's interpreted state (spec 1.4) for Zeek conn states."""
        state = self.state
        if state in ESTABLISHED_STATES:
            return True
        if state in NOT_ESTABLISHED_STATES:
            return False
        if state in ("RSTR", "RST", "FIN"):
            return self.spkts + self.dpkts > 3
        if state in ("ECO", "UNK", "CON", "EST"):
            return True
        return False

class DnsRecord(Record):
    log_type: ClassVar[str] = "dns"
    channel: ClassVar[str] = "new_dns"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "proto": "proto",
        "query": "query",
        "qclass_name": "qclass_name",
        "qtype_name": "qtype_name",
        "rcode_name": "rcode_name",
        "answers": "answers",
        "TTLs": "TTLs",
    }

    proto: str = ""
    query: str = ""
    qclass_name: str = ""
    qtype_name: str = ""
    rcode_name: str = ""
    answers: list[str] = []
    TTLs: list[float] = []


class SslRecord(Record):
    log_type: ClassVar[str] = "ssl"
    channel: ClassVar[str] = "new_ssl"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "version": "version",
        "cipher": "cipher",
        "resumed": "resumed",
        "established": "established",
        "cert_chain_fuids": "cert_chain_fuids",
        "cert_chain_fps": "cert_chain_fps",
        "client_cert_chain_fuids": "client_cert_chain_fuids",
        "subject": "subject",
        "issuer": "issuer",
        "server_name": "server_name",
        "validation_status": "validation_status",
        "curve": "curve",
        "ja3": "ja3",
        "ja3s": "ja3s",
        "ja4": "ja4",
        "ja4s": "ja4s",
        "is_DoH": "is_DoH",
    }

    version: str = ""
    cipher: str = ""
    resumed: bool = False
    established: bool = False
    cert_chain_fuids: list[str] = []
    cert_chain_fps: list[str] = []
    client_cert_chain_fuids: list[str] = []
    subject: str = ""
    issuer: str = ""
    server_name: str = ""
    validation_status: str = ""
    curve: str = ""
    ja3: str = ""
    ja3s: str = ""
    ja4: str = ""
    ja4s: str = ""
    is_DoH: bool = False


class HttpRecord(Record):
    log_type: ClassVar[str] = "http"
    channel: ClassVar[str] = "new_http"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "method": "method",
        "host": "host",
        "uri": "uri",
        "version": "version",
        "user_agent": "user_agent",
        "request_body_len": "request_body_len",
        "response_body_len": "response_body_len",
        "status_code": "status_code",
        "status_msg": "status_msg",
        "resp_mime_types": "resp_mime_types",
        "resp_fuids": "resp_fuids",
    }

    method: str = ""
    host: str = ""
    uri: str = ""
    version: str = ""
    user_agent: str = ""
    request_body_len: int = 0
    response_body_len: int = 0
    status_code: int = 0
    status_msg: str = ""
    resp_mime_types: list[str] = []
    resp_fuids: list[str] = []


class SshRecord(Record):
    log_type: ClassVar[str] = "ssh"
    channel: ClassVar[str] = "new_ssh"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "version": "version",
        "auth_success": "auth_success",
        "auth_attempts": "auth_attempts",
        "client": "client",
        "server": "server",
    }

    version: int = 0
    # None when Zeek could not tell (field unset).
    auth_success: bool | None = None
    auth_attempts: int = 0
    client: str = ""
    server: str = ""


class SmtpRecord(Record):
    log_type: ClassVar[str] = "smtp"
    channel: ClassVar[str] = "new_smtp"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "last_reply": "last_reply",
        "mailfrom": "mailfrom",
        "helo": "helo",
    }

    last_reply: str = ""
    mailfrom: str = ""
    helo: str = ""


class NoticeRecord(Record):
    log_type: ClassVar[str] = "notice"
    channel: ClassVar[str] = "new_notice"
    needs_saddr: ClassVar[bool] = False
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "note": "note",
        "msg": "msg",
        "sub": "sub",
        "scanning_ip": "src",
        "dst": "dst",
        "scanned_port": "p",
        "n": "n",
    }

    note: str = ""
    msg: str = ""
    sub: str = ""
    scanning_ip: str = ""
    dst: str = ""
    scanned_port: int = 0
    n: int = 0


class SoftwareRecord(Record):
    log_type: ClassVar[str] = "software"
    channel: ClassVar[str] = "new_software"
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        "starttime": "ts",
        "uid": "uid",
        "saddr": "host",
        "sport": "host_p",
        "software": "software_type",
        "software_name": "name",
        "version_major": "version.major",
        "version_minor": "version.minor",
        "version_minor2": "version.minor2",
        "unparsed_version": "unparsed_version",
    }

    software: str = ""
    software_name: str = ""
    version_major: int | None = None
    version_minor: int | None = None
    version_minor2: int | None = None
    unparsed_version: str = ""


class TunnelRecord(Record):
    log_type: ClassVar[str] = "tunnel"
    channel: ClassVar[str] = "new_tunnel"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "tunnel_type": "tunnel_type",
        "action": "action",
    }

    tunnel_type: str = ""
    action: str = ""


class WeirdRecord(Record):
    log_type: ClassVar[str] = "weird"
    channel: ClassVar[str] = "new_weird"
    needs_saddr: ClassVar[bool] = False
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "name": "name",
        "addl": "addl",
        "notice": "notice",
        "peer": "peer",
    }

    name: str = ""
    addl: str = ""
    notice: bool = False
    peer: str = ""


class FilesRecord(Record):
    """files.log. ``saddr`` is the sender of the file, ``daddr`` the receiver.

    Older Zeek writes ``tx_hosts``/``rx_hosts``; newer Zeek writes ``id.*``
    with ``is_orig`` telling which side sent. The reader normalises both so
    that, for a TLS certificate, ``saddr`` is the server.
    """

    log_type: ClassVar[str] = "files"
    channel: ClassVar[str] = "new_downloaded_file"
    needs_saddr: ClassVar[bool] = False
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        "starttime": "ts",
        "uid": "fuid",
        "saddr": "id.orig_h",
        "sport": "id.orig_p",
        "daddr": "id.resp_h",
        "dport": "id.resp_p",
        "tx_hosts": "tx_hosts",
        "rx_hosts": "rx_hosts",
        "conn_uids": "conn_uids",
        "is_orig": "is_orig",
        "source": "source",
        "analyzers": "analyzers",
        "mime_type": "mime_type",
        "md5": "md5",
        "sha1": "sha1",
        "sha256": "sha256",
        "size": "total_bytes",
        "seen_bytes": "seen_bytes",
    }

    tx_hosts: list[str] = []
    rx_hosts: list[str] = []
    conn_uids: list[str] = []
    is_orig: bool = False
    source: str = ""
    analyzers: list[str] = []
    mime_type: str = ""
    md5: str = ""
    sha1: str = ""
    sha256: str = ""
    size: int = 0
    seen_bytes: int = 0


class X509Record(Record):
    """x509.log: one certificate. ``uid`` is the file id (fuid)."""

    log_type: ClassVar[str] = "x509"
    channel: ClassVar[str] = "new_x509"
    needs_saddr: ClassVar[bool] = False
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        "starttime": "ts",
        "uid": "id",
        "fingerprint": "fingerprint",
        "subject": "certificate.subject",
        "issuer": "certificate.issuer",
        "not_valid_before": "certificate.not_valid_before",
        "not_valid_after": "certificate.not_valid_after",
        "san_dns": "san.dns",
        "host_cert": "host_cert",
    }

    fingerprint: str = ""
    subject: str = ""
    issuer: str = ""
    not_valid_before: float = 0.0
    not_valid_after: float = 0.0
    san_dns: list[str] = []
    host_cert: bool = True


class LoginRecord(Record):
    """login.log written by zeek-scripts/login.zeek (telnet, rlogin, rsh)."""

    log_type: ClassVar[str] = "login"
    channel: ClassVar[str] = "new_login"
    zeek: ClassVar[dict[str, str]] = {
        **_ENDPOINTS,
        "proto": "proto",
        "success": "success",
        "confused": "confused",
        "user": "user",
        "client_user": "client_user",
    }

    proto: str = ""
    success: bool = False
    confused: bool = False
    user: str = ""
    client_user: str = ""


class DhcpRecord(Record):
    """dhcp.log. ``saddr`` is the client, ``daddr`` the DHCP server."""

    log_type: ClassVar[str] = "dhcp"
    channel: ClassVar[str] = "new_dhcp"
    needs_saddr: ClassVar[bool] = False
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        "starttime": "ts",
        "uid": "uid",
        "uids": "uids",
        "saddr": "client_addr",
        "daddr": "server_addr",
        "mac": "mac",
        "host_name": "host_name",
        "requested_addr": "requested_addr",
        "assigned_addr": "assigned_addr",
    }

    uids: list[str] = []
    mac: str = ""
    host_name: str = ""
    requested_addr: str = ""
    assigned_addr: str = ""


class ArpRecord(Record):
    log_type: ClassVar[str] = "arp"
    channel: ClassVar[str] = "new_arp"
    needs_saddr: ClassVar[bool] = False
    needs_daddr: ClassVar[bool] = False
    zeek: ClassVar[dict[str, str]] = {
        "starttime": "ts",
        "uid": "uid",
        "operation": "operation",
        "saddr": "orig_h",
        "daddr": "resp_h",
        "smac": "src_mac",
        "dmac": "dst_mac",
        "orig_hw": "orig_hw",
        "resp_hw": "resp_hw",
    }

    operation: str = ""
    smac: str = ""
    dmac: str = ""
    orig_hw: str = ""
    resp_hw: str = ""


RECORD_TYPES: tuple[type[Record], ...] = (
    ConnRecord,
    DnsRecord,
    SslRecord,
    HttpRecord,
    SshRecord,
    SmtpRecord,
    NoticeRecord,
    SoftwareRecord,
    TunnelRecord,
    WeirdRecord,
    FilesRecord,
    X509Record,
    LoginRecord,
    DhcpRecord,
    ArpRecord,
)
BY_LOG_TYPE: dict[str, type[Record]] = {t.log_type: t for t in RECORD_TYPES}
BY_CHANNEL: dict[str, type[Record]] = {t.channel: t for t in RECORD_TYPES}
# Every Zeek field name some record reads (``id.orig_h``, ``certificate.subject``, ...).
ZEEK_FIELD_NAMES: frozenset[str] = frozenset(name for t in RECORD_TYPES for name in t.zeek.values())


def _fields(record_type: type[Record]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for f in msgspec.structs.fields(record_type):
        if f.default_factory is not msgspec.NODEFAULT:
            out.append((f.name, f.type, msgspec.field(default_factory=f.default_factory)))
        elif f.default is not msgspec.NODEFAULT:
            out.append((f.name, f.type, f.default))
        else:
            out.append((f.name, f.type))
    return out


@functools.cache
def zeek_json_type(record_type: type[Record]) -> type[msgspec.Struct]:
    """A twin of ``record_type`` whose JSON field names are Zeek's.

    Only fields named in ``record_type.zeek`` can be read from Zeek; the others
    keep their defaults. Unknown Zeek fields are ignored.
    """
    names = [f.name for f in msgspec.structs.fields(record_type)]
    rename = {name: record_type.zeek.get(name, "__flowalerts_unmapped__" + name) for name in names}
    return msgspec.defstruct(
        "Zeek" + record_type.__name__,
        _fields(record_type),
        kw_only=True,
        gc=False,
        rename=rename,
        namespace=_class_facts(record_type),
    )


def _class_facts(record_type: type[Record]) -> dict[str, object]:
    """Class attributes the twins share with their record class."""
    return {
        "log_type": record_type.log_type,
        "channel": record_type.channel,
        "zeek": record_type.zeek,
        "needs_saddr": record_type.needs_saddr,
        "needs_daddr": record_type.needs_daddr,
        "record_type": record_type,
    }


