"""Weird HTTP methods (seed "Weird HTTP methods"; spec 2.28; issue 13).

Zeek writes ``unknown_HTTP_method`` to weird.log when a request uses a method
it does not know (``addl`` holds the method): web scanners and exploit kits
probe servers with odd methods (MEDIUM, 0.9; attacker the client, victim the
server).

One evidence per (profile, window, server) (issue 13): a web scanner sends
thousands of odd methods to one server, and one evidence per request flooded
the analyst (11,976 evidence and 344 alerts for one host in one window on a
real capture). Reported at the first odd method, updated at window close with
the number of requests, the distinct methods (the first 20) and every uid (up
to the evidence's cap). Threat level and confidence grow with the count
(the kind's ``Growth``, threshold 1: high from 4, critical from 16), and for
alerts it weighs as one evidence per request, as before.

Exceptions, and why:

* other weirds (including other HTTP weirds, whose ``addl`` is not a
  method): the seed is about methods;
* weirds without client or server address (Zeek logs some weirds outside any
  connection).

``addl`` comes from the attacker: it is escaped in the description and cut to
100 characters in the details.
"""

from __future__ import annotations

import msgspec

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_ip, escape_text
from flowalerts.core.ips import is_ip
from flowalerts.core.messages import Message
from flowalerts.core.records import WeirdRecord
from flowalerts.engine.detection import Detection, Finding, NoConfig, Tally
from flowalerts.engine.samples import keep_earliest, values

WEIRD_NAME = "unknown_http_method"
MAX_METHODS = 20
MAX_SEEN = 10_000  # distinct methods remembered per tally (past it, repeats may count again)
MAX_METHOD_CHARS = 100


class WeirdHttpMethodDetails(Details):
    requests: int  # requests with an unknown method to this server in this window
    methods: list[str]  # the distinct methods seen first (at most 20, each cut to 100 characters)
    distinct_methods: int
    dport: int


WEIRD_HTTP_METHOD = EvidenceKind(
    "WEIRD_HTTP_METHOD",
    ThreatLevel.MEDIUM,
    confidence=0.9,
    details=WeirdHttpMethodDetails,
    category="Recon.Scanning",
    summary="HTTP requests with a method Zeek does not know (weird.log); one per server and window, growing with the count",
)


class WeirdMethodTally(Tally):
    methods: list[tuple[float, str]] = msgspec.field(default_factory=list)  # (ts, method), the earliest MAX_METHODS
    seen: set[str] = msgspec.field(default_factory=set)  # at most MAX_SEEN
    distinct: int = 0
    dport: int = 0  # the first request's
    noted: bool = False

    def note(self, ts: float, method: str, dport: int) -> None:
        if not self.noted:
            self.noted, self.dport = True, dport
        if method not in self.seen and len(self.seen) < MAX_SEEN:
            self.seen.add(method)
            self.distinct += 1
        keep_earliest(self.methods, ts, method, MAX_METHODS)


class WeirdHttpMethod(Detection[NoConfig, WeirdMethodTally]):
    """HTTP requests with methods Zeek does not know."""

    id = "weird_http_method"
    channels = ("new_weird",)
    evidence = (WEIRD_HTTP_METHOD,)

    def handle(self, msg: Message[WeirdRecord]) -> None:
        flow = msg.flow
        if WEIRD_NAME not in flow.name.lower() or not is_ip(flow.saddr) or not is_ip(flow.daddr):
            return
        method = flow.addl[:MAX_METHOD_CHARS]
        self.tally(msg, flow.daddr, 1, update=lambda tally: tally.note(flow.starttime, method, flow.dport))

    def report_tally(self, profile: str, twid: int, key: str, tally: WeirdMethodTally) -> Finding:
        methods = values(tally.methods)
        distinct, dport = tally.distinct, tally.dport
        shown = ", ".join(escape_text(m, limit=MAX_METHOD_CHARS) for m in methods[:5])
        if tally.count == 1:
            text = f"weird HTTP method {shown} from {profile} to {key}:{dport}"
        else:
            text = (f"{tally.count} HTTP requests with weird methods from {profile} to {key}:{dport} in this "
                    f"time window ({distinct} different: {shown}{', ...' if distinct > 5 else ''})")
        return Finding(
            victim=dst_ip(key),
            details=WeirdHttpMethodDetails(requests=tally.count, methods=methods, distinct_methods=distinct,
                                           dport=dport),
            description=text,
            dst_port=dport or None,
        )
