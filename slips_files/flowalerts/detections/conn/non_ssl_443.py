"""Non-SSL connections on port 443 (seed "Non-SSL connections on port 443";
spec 2.29).

An established TCP connection to port 443 that carried data and on which Zeek
found no TLS (its ``service`` does not name ``ssl``; a composite such as
``ssl,http`` counts as TLS): something uses the HTTPS port to get through
firewalls without speaking TLS (tunnels, C2 over raw TCP).

Zeek sometimes recognises TLS on one connection between two hosts and not on
another a moment later, so a candidate is dropped when any TLS was seen
between the same two hosts (conn.log with an ssl service, or ssl.log, on port
443) within ``window`` seconds (300) of its start, before or after. The
decision waits (a flow-time timer) until the watermark passes the
candidate's start + ``window``: every record starting before then has
arrived, so the answer is the same in any arrival order within the allowed
lateness. TLS sightings are kept per pair in buckets of ``window`` seconds
(earliest and latest time each), so the check is exact and bounded.

Exceptions, and why:

* no handshake seen (``conn_state`` OTH, or a TCP history without an
  originator SYN ``S``): the capture started mid-stream, after the TLS
  handshake, so Zeek could not recognise TLS (issue 13: on one real capture
  every such evidence was a mid-stream connection to a CDN);
* **partly seen** (``conn_flows.wholly_seen``): the history shows payload
  before the SYN-ACK (a lost SYN-ACK: Zeek's ``data_before_established``),
  the SYN-ACK before the SYN (mid-handshake), or a content gap (``C``/``c``),
  or Zeek missed bytes (``missed_bytes``). Zeek's TLS analyzer needs the stream from its start;
  where the capture lost packets, no TLS found is not "no TLS" (issue 21:
  every one of the 20 such evidence on the CTU-Normal-44 Windows host's
  benign traffic, to Microsoft, Cloudflare, AWS ...);
* not established, or no payload (0 bytes both ways): nothing spoke on it.

Repeated: one evidence per (profile, window, destination), reported at the
first decided connection and updated at window close with the count, the
services Zeek saw and every uid; threat level and confidence grow with the
count (the kind's ``Growth``), and it weighs as ``count`` evidence for alerts.
"""

from __future__ import annotations

import math

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord, SslRecord
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.traffic.conn_flows import ip_info, ssl_service, wholly_seen

HTTPS_PORT = 443


class NonSsl443Config(SectionConfig):
    window: float = 300.0  # seconds either side in which TLS between the same hosts clears a candidate

    slips_keys = {"non_ssl_443_window": "window"}


class NonSsl443Details(Details):
    connections: int
    services: list[str]  # Zeek's service values of the connections ("" when none)
    window: float
    bytes: int  # payload bytes, both directions, of all the connections


NON_SSL_PORT_443_CONNECTION = EvidenceKind(
    "NON_SSL_PORT_443_CONNECTION",
    ThreatLevel.MEDIUM,
    confidence=0.8,
    details=NonSsl443Details,
    category="Other.Uncategorized",
    summary="established TCP to port 443 with payload, wholly seen (no payload before the handshake, no gap), no TLS and no TLS "
    "between the same hosts within 300 s; one per destination",
)


class NonSsl443Tally(Tally):
    services: set[str] = msgspec.field(default_factory=set)  # up to 16
    bytes: int = 0  # payload, both directions

    def note(self, service: str, payload: int) -> None:
        if len(self.services) < 16:
            self.services.add(service)
        self.bytes += payload


class NonSsl443(Detection[NonSsl443Config, NonSsl443Tally]):
    """Established non-TLS traffic to port 443 with no TLS nearby in time."""

    id = "non_ssl_443"
    channels = ("new_flow", "new_ssl")
    # Late records too: a late TLS sighting still clears candidates decided later.
    late_records = True
    evidence = (NON_SSL_PORT_443_CONNECTION,)
    logs = ("conn",)

    def window_close_delay(self) -> float:
        return self.config.window

    def handle(self, msg: Message[ConnRecord | SslRecord]) -> None:
        flow = msg.flow
        if flow.dport != HTTPS_PORT:
            return
        if isinstance(flow, SslRecord):
            self._sighting(flow.saddr, flow.daddr, flow.starttime)
            return
        if ssl_service(flow.appproto):
            self._sighting(flow.saddr, flow.daddr, flow.starttime)
            return
        if (
            msg.late  # its window was settled: only its TLS sighting counts
            or flow.proto.lower() != "tcp"
            or flow.sbytes + flow.dbytes <= 0
            or not flow.is_established
            or not wholly_seen(flow)
            or ip_info(flow.saddr) is None
            or ip_info(flow.daddr) is None
        ):
            return
        key = flow.uid or (flow.saddr, flow.sport, flow.daddr, flow.starttime)
        self.schedule(key, flow.starttime + self.config.window, msg)

    def on_timer(self, key: object, payload: Message[ConnRecord]) -> None:
        msg = payload
        flow = msg.flow
        destination = ip_info(flow.daddr)
        if destination is None or self._tls_near(flow.saddr, flow.daddr, flow.starttime):
            return
        service, sent = flow.appproto, flow.sbytes + flow.dbytes
        self.tally(msg, destination.canonical, update=lambda tally: tally.note(service, sent))

    # -- TLS sightings: per bucket of `window` seconds, source -> destination -> earliest and latest time.
    # One table entry per bucket holding plain dicts of the pairs seen in it
    # (they all expire together): a sighting costs a dict slot and one packed
    # pair of floats, not a table entry and a key tuple of its own (184k
    # sightings live at once at the 1M benchmark).
    def _bucket(self, ts: float) -> int:
        return math.floor(ts / self.config.window)

    def _sighting(self, saddr: str, daddr: str, ts: float) -> None:
        window = self.config.window
        bucket = self._bucket(ts)
        table = self.table("tls_seen")
        sources = table.get(bucket)
        if sources is None:
            # Kept until no candidate can still need it: candidates of the same
            # window arrive until it closes (a window width later at most).
            sources = {}
            table.set(bucket, sources, (bucket + 2) * window + window + self.ctx.config.parameters.width)
        seen = sources.get(saddr)
        if seen is None:
            seen = sources[saddr] = {}
        known = seen.get(daddr)
        # (earliest, latest) packed in one complex number (real, imag): 32
        # bytes instead of 104 for a tuple of two floats.
        seen[daddr] = complex(ts, ts) if known is None else complex(min(known.real, ts), max(known.imag, ts))

    def _seen(self, saddr: str, daddr: str, bucket: int) -> tuple[float, float] | None:
        sources = self.table("tls_seen").get(bucket)
        seen = None if sources is None else sources.get(saddr)
        span = None if seen is None else seen.get(daddr)
        return None if span is None else (span.real, span.imag)

    def _tls_near(self, saddr: str, daddr: str, ts: float) -> bool:
        window = self.config.window
        bucket = self._bucket(ts)
        before = self._seen(saddr, daddr, bucket - 1)
        if before is not None and before[1] >= ts - window:
            return True
        if self._seen(saddr, daddr, bucket) is not None:
            return True
        after = self._seen(saddr, daddr, bucket + 1)
        return after is not None and after[0] <= ts + window

    def report_tally(self, profile: str, twid: int, key: str, tally: NonSsl443Tally) -> Finding:
        services = sorted(tally.services)
        shown = ", ".join(service or "none" for service in services)
        return Finding(
            victim=dst_ip(key),
            details=NonSsl443Details(connections=tally.count, services=services, window=self.config.window,
                                     bytes=tally.bytes),
            description=(
                f"{tally.count} established connection(s) from {profile} to {key} port 443/tcp without TLS "
                f"(Zeek service: {shown}) and no TLS between them within {self.config.window:g} s"
            ),
            dst_port=HTTPS_PORT,
            proto="tcp",
        )
