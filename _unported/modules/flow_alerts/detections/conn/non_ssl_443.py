"""Non-SSL established connections on port 443 (spec 2.29, seed).

A candidate is an established TCP flow to port 443 that carried bytes and
whose Zeek service does not include ``ssl`` (a composite service such as
``ssl,http`` contains ssl, so it counts as SSL, unlike the reference).

Zeek sometimes labels one connection of a pair as SSL and another, minutes
apart, as not: so a candidate is dropped when any SSL was seen between the
same two hosts within ``non_ssl_443_window`` seconds (300) of its flow time,
before or after. SSL sightings come from conn.log (service has ssl) and from
ssl.log. Decisions wait until the flow-time watermark passes ts + window,
and are settled at end of input. One evidence per (profile, window,
destination).
"""

from __future__ import annotations

import bisect

import msgspec

from flowalerts.evidence import Evidence, EvidenceType, ThreatLevel, dst_ip, src_ip
from flowalerts.knowledge.ips import is_ip
from flowalerts.messages import Message
from flowalerts.modules.flow_alerts.detector import Detector, Result, make_evidence
from flowalerts.records import ConnRecord, SslRecord

HTTPS_PORT = 443
MAX_SIGHTINGS = 64


class PendingNonSsl(msgspec.Struct, kw_only=True, gc=False, array_like=True):
    profile: str
    twid: int
    starttime: float
    uid: str
    saddr: str
    sport: int
    daddr: str
    dport: int
    appproto: str


def _is_ssl(appproto: str) -> bool:
    return "ssl" in appproto.lower().split(",")


class NonSsl443(Detector):
    """Established non-SSL traffic to port 443 with no SSL nearby in time."""

    channels = ("new_flow", "new_ssl")
    evidence_types = (EvidenceType.NON_SSL_PORT_443_CONNECTION,)
    threat_level = ThreatLevel.MEDIUM
    confidence = 0.8

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        # (saddr, daddr) -> sorted flow times of SSL sightings.
        self.sightings = self.state.table("non_ssl_443_sightings")
        # uid -> PendingNonSsl
        self.pending = self.state.table("non_ssl_443_pending")
        # (profile, twid, daddr) already reported. A flow-time table, not a
        # window dict: a late decision must not recreate a closed window.
        self.reported = self.state.table("non_ssl_443_reported")

    @property
    def window(self) -> float:
        return self.config.non_ssl_443_window

    def handle(self, msg: Message[ConnRecord | SslRecord]) -> Result:
        flow = msg.flow
        if isinstance(flow, SslRecord):
            self._sighting(flow.saddr, flow.daddr, flow.starttime)
            return None
        if not (is_ip(flow.saddr) and is_ip(flow.daddr)):
            return None
        if _is_ssl(flow.appproto):
            self._sighting(flow.saddr, flow.daddr, flow.starttime)
            return None
        if (
            flow.dport != HTTPS_PORT
            or flow.proto.lower() != "tcp"
            or not flow.is_established
            or flow.sbytes + flow.dbytes <= 0
        ):
            return None
        key = flow.uid or f"{flow.saddr}-{flow.sport}-{flow.daddr}-{flow.starttime}"
        entry = PendingNonSsl(profile=msg.profile, twid=msg.twid, starttime=flow.starttime, uid=flow.uid,
                              saddr=flow.saddr, sport=flow.sport, daddr=flow.daddr, dport=flow.dport,
                              appproto=flow.appproto)
        self.pending.set(key, entry, flow.starttime + 2 * self.window + 3600.0)
        return None

    def on_watermark(self, watermark: float) -> Result:
        return self._settle(watermark)

    def finish(self) -> Result:
        return self._settle(float("inf"))

    def _sighting(self, saddr: str, daddr: str, ts: float) -> None:
        key = (saddr, daddr)
        times = list(self.sightings.get(key) or ())
        bisect.insort(times, ts)
        # Keep the sightings that can still suppress a candidate.
        newest = times[-1]
        times = [t for t in times if t >= newest - 2 * self.window][-MAX_SIGHTINGS:]
        self.sightings.set(key, times, newest + 2 * self.window)

    def _ssl_near(self, saddr: str, daddr: str, ts: float) -> bool:
        times = self.sightings.get((saddr, daddr))
        if not times:
            return False
        i = bisect.bisect_left(times, ts - self.window)
        return i < len(times) and times[i] <= ts + self.window

    def _settle(self, watermark: float) -> list[Evidence]:
        due = [(k, e) for k, e in self.pending.items() if e.starttime + self.window <= watermark]
        out: list[Evidence] = []
        for key, entry in sorted(due, key=lambda item: item[1].starttime):
            self.pending.delete(key)
            if self._ssl_near(entry.saddr, entry.daddr, entry.starttime):
                continue
            done = (entry.profile, entry.twid, entry.daddr)
            if self.reported.get(done) is not None:
                continue
            self.reported.set(done, True, entry.starttime + self.ctx.config.parameters.width + 3600.0)
            service = entry.appproto or "none"
            out.append(
                make_evidence(
                    EvidenceType.NON_SSL_PORT_443_CONNECTION,
                    description=f"Established connection from {entry.saddr} to {entry.daddr} port 443/tcp "
                    f"without SSL/TLS (Zeek service: {service})",
                    attacker=src_ip(entry.saddr),
                    victim=dst_ip(entry.daddr),
                    threat_level=self.threat_level,
                    confidence=self.confidence,
                    profile=entry.profile,
                    twid=entry.twid,
                    timestamp=entry.starttime,
                    uids=[entry.uid],
                    src_port=entry.sport,
                    dst_port=entry.dport,
                )
            )
        return out
