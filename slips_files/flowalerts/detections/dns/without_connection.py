"""DNS resolutions without a connection (seed "DNS resolutions without a
connection"; spec 2.4 INTENT, 5.1 item 1).

An answered A/AAAA query whose answers the asking host never contacts within
``wait`` (30 min) of flow time: a resolution nobody uses is slightly
suspicious (INFO, 0.8). "Contacted" means a connection by the profile - or by
the same host's other IP version (same MAC, or paired by its traffic where
conn.log has no MACs: ``learners.dual_stack``) - to an answer IP, to an IP
learned for the query or for a CNAME of its answer list, that was active
between ``contact_lookback`` (5 min) before the query and the end of the
wait: a connection still open, or closed moments before, is a client
re-resolving a name it uses (DNS caches expire while connections stay open).

**Waiting (issue 12).** One flow-time timer per (profile, window, name), due at
the query's time + ``wait``. The watermark means "every record starting
before it has arrived" (``flowalerts.core.clock``), so when the timer fires every
connection that started within the wait has arrived - conn records included,
although Zeek writes them when the connection ends - as long as the
connection did not last longer than ``time.allowed_lateness`` (1 h). For
longer ones, ssl.log, http.log and ssh.log records (written at the start of
the session) count as contacts too (``app_contacts`` learner); a plain TCP
connection longer than the lateness whose first record is its conn record
can still be reported: raise ``time.allowed_lateness`` to cover it.

The seed's re-checks at 10 and 20 minutes only dropped contacted queries
earlier, to save memory; they are not needed for a correct decision, and
with the lateness policy every timer already waits ``allowed_lateness`` more
than its due time, so checking at 10 minutes would free a query after 70
instead of 90 minutes of flow time (22 % less) for three timer operations
instead of one. One timer is enough; repeated queries of the same name join
the pending one instead of adding timers. At end of input every pending query
is decided with what arrived.

**Deciding "contacted" early.** Most resolutions are followed by their
connection within seconds, but the timer of each would wait the 30 minutes
plus the lateness (an hour and a half of traffic on a busy network). So the
detection also reads conn records: a connection of the profile to one of the
answers, active within the query's range, decides the name "contacted" at
once; its timer is cancelled and only a small marker (the due time) stays,
so later queries of the name in the same window join it as they joined the
pending query (same decisions as waiting, a fraction of the memory). Every
other case is decided when the timer fires.

One evidence per (profile, window, name) (issue 13): the queries of one name
that were never followed by a connection, with their count and uids; a name
that is queried again after its timer fired is decided again and reported as
an update of the same evidence. INFO whatever the count.

Exceptions, and why:

* ``.arpa`` (reverse lookups lead to no connection by design), ``.local``
  (mDNS), names with ``*``, ``cymru.com`` and its subdomains (ASN lookups by
  IP-info tools), WPAD in any case (Windows proxy discovery), names without a
  TLD (Chrome's random probes that detect DNS hijacking);
* non-NOERROR answers, other types than A/AAAA, and answers with no usable IP
  or CNAME (blocking answers such as 0.0.0.0 leave nothing to connect to);
* in live mode, the first ``live_warmup`` seconds (30 min) of wall clock: the
  connections of the first resolutions may predate the sensor's view;
* queries of a time whose contacts the bounded contacts table had to forget
  (a network with more distinct host/destination pairs within two hours than
  its cap, ``flow_alerts.contacts.max_pairs``): the absence of a contact
  proves nothing then, so the query is counted as "not decided" in the
  summary instead of reported.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

import msgspec

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel, dst_domain, escape_text, src_ip, uuid_shaped
from flowalerts.core.messages import Message
from flowalerts.core.records import ConnRecord, DnsRecord
from flowalerts.engine.detection import Detection
from flowalerts.learners.app_contacts import AppContacts
from flowalerts.learners.conn import Contacts, ContactSpans, LayerTwo
from flowalerts.learners.dns import DnsFacts, DnsNames
from flowalerts.learners.dual_stack import DualStackLearner, DualStacks
from flowalerts.traffic import dns_names as names

ADDRESS_TYPES = frozenset({"A", "AAAA"})
MAX_IPS = 32  # answer IPs kept per pending name
MAX_CANDIDATES = 64  # IPs checked for a contact (answers, learned IPs of the name and its CNAMEs)
MAX_UIDS = 100
# Far enough in the future for "kept for the run" entries (must stay finite).
FOREVER = 1e18


class WithoutConnectionConfig(SectionConfig):
    wait: float = 1800.0  # seconds of flow time
    contact_lookback: float = 300.0  # a contact that started this long before the query counts
    live_warmup: float = 1800.0  # seconds of wall clock, live mode only

    slips_keys = {"dns_without_connection_wait": "wait"}


class PendingQuery(msgspec.Struct, gc=False):
    """The queries of one name by one profile in one window, waiting for a contact.

    Tuples, not lists: tens of thousands wait at once on a busy network, and
    tuples of strings are not tracked by Python's garbage collector (lists are,
    and made every collection of the whole process slower).
    """

    profile: str
    twid: int
    saddr: str
    query: str
    first_ts: float
    last_ts: float
    uids: tuple[str, ...]
    count: int
    ips: tuple[str, ...]
    cnames: tuple[str, ...]


class WithoutConnectionDetails(Details):
    query: str
    answers: list[str]  # the answer IPs (at most 32, sorted)
    cnames: list[str]  # sorted
    queries: int  # queries of the name without a connection in this window
    wait: float


DNS_WITHOUT_CONNECTION = EvidenceKind(
    "DNS_WITHOUT_CONNECTION",
    ThreatLevel.INFO,
    confidence=0.8,
    details=WithoutConnectionDetails,
    summary="an answered A/AAAA name not contacted within 30 min of flow time (exempt names in the docstring); one per name",
)


def is_exempt(query: str) -> bool:
    """The exempt names (see the module docstring); ``query`` is normalized.
    Written out (not as calls to the name helpers): it runs on every answered
    address query."""
    if not query or "*" in query:
        return True
    head, dot, rest = query.partition(".")
    if not dot or not rest.strip(".") or not head:
        return True  # no TLD (one label)
    tld = query[query.rfind(".") + 1 :]
    if tld in ("arpa", "local"):
        return True
    if head == "wpad":
        return True
    return query == "cymru.com" or query.endswith(".cymru.com")


class DnsWithoutConnection(Detection[WithoutConnectionConfig]):
    """An answered A/AAAA resolution never followed by a connection within 30 minutes."""

    id = "dns_without_connection"
    # conn records only to decide "contacted" early (see the docstring).
    channels = ("new_dns", "new_flow")
    # A late query is decided like any other: the decision uses no window
    # state and is reported when its timer fires, after its window closed anyway.
    late_records = True
    evidence = (DNS_WITHOUT_CONNECTION,)
    needs = (DnsFacts, Contacts, AppContacts, LayerTwo, DualStackLearner)
    # Without conn.log every resolution would look unused.
    logs = ("dns", "conn")

    def handle(self, msg: Message[DnsRecord | ConnRecord]) -> None:
        flow = msg.flow
        if isinstance(flow, ConnRecord):
            self._connection(msg.profile, flow.daddr)
            return
        if flow.rcode_name != "NOERROR" or flow.qtype_name not in ADDRESS_TYPES or not flow.answers:
            return
        query = names.normalize(flow.query)
        if is_exempt(query):
            return
        # One string per name: a pending query keeps it (key and entry) for
        # the wait plus the lateness, and names recur across profiles.
        query = sys.intern(query)
        if self.ctx.live and self._warming_up():
            return
        key = (msg.profile, msg.twid, query)
        pending: PendingQuery | None = self.pending(key)
        ips = tuple(ip for ip in names.answer_ips(flow.answers) if not names.is_blocking_answer(ip))
        cnames = tuple(name for name in names.answer_names(flow.answers) if name != query)
        if pending is not None:
            known = pending.ips
            _merge(pending, flow.starttime, flow.uid, ips, cnames)
            self._await([ip for ip in pending.ips if ip not in known], key)
            if self._answer_contacted(pending):
                self._decided_contacted(key, pending)
            return
        due = self._contacted_due(key)
        if due is not None and due > self.watermark:
            # Joins a query already decided "contacted" (as it would join the pending one).
            self._mark_contacted(key, flow.starttime + self.config.wait)
            return
        if not ips and not cnames:
            return
        entry = PendingQuery(profile=msg.profile, twid=msg.twid, saddr=flow.saddr, query=query,
                             first_ts=flow.starttime, last_ts=flow.starttime, uids=(flow.uid,) if flow.uid else (),
                             count=1, ips=ips[:MAX_IPS], cnames=cnames[:MAX_IPS])
        if self._answer_contacted(entry):
            # A connection to an answer is already known (e.g. one still open).
            self._mark_contacted(key, flow.starttime + self.config.wait)
            return
        self.schedule(key, flow.starttime + self.config.wait, entry)
        self._await(entry.ips, key)

    def on_timer(self, key: tuple[str, int, str], payload: PendingQuery) -> None:
        entry = payload
        if self._contacted(entry):
            self._unawait(entry.ips, key)
            return
        due = entry.last_ts + self.config.wait
        if due > self.watermark and math.isfinite(self.watermark):
            # A later query of the same name joined: it has not waited yet.
            self.schedule(key, due, entry)
            return
        self._unawait(entry.ips, key)
        if not self.facts_of(ContactSpans).contacts_complete_since(entry.first_ts - self.config.contact_lookback):
            # The contacts table was full and forgot contacts of this query's
            # time: "no contact" would be a guess. Abstain, counted.
            self.ctx.undecided(self.id)
            return
        self._report(entry)

    # -- deciding "contacted" early ---------------------------------------------------
    def _connection(self, profile: str, daddr: str) -> None:
        """A conn record of ``profile`` to ``daddr`` (its contact is already
        learned): decide the pending queries that answered ``daddr``."""
        keys = self._awaiting().get((profile, daddr))
        if not keys:
            return
        for key in keys:
            entry: PendingQuery | None = self.pending(key)
            if entry is not None and self._answer_contacted(entry):
                self._decided_contacted(key, entry)

    def _answer_contacted(self, entry: PendingQuery) -> bool:
        """The common case of ``_contacted``: the profile itself used an answer."""
        used = self._use_test(entry)
        return any(used(entry.profile, ip) for ip in entry.ips)

    def _use_test(self, entry: PendingQuery) -> Callable[[str, str], bool]:
        """Whether a contact of (profile, ip) counts as a use of ``entry``: it
        was active between shortly before the first query and the end of the
        wait after the last one (a connection that started later than that is
        not "following" the resolution)."""
        contact_span = self.facts_of(ContactSpans).contact_span
        earliest = entry.first_ts - self.config.contact_lookback
        latest = entry.last_ts + self.config.wait

        def used(profile: str, ip: str) -> bool:
            span = contact_span(profile, ip)
            return span is not None and span[0] <= latest and span[1] >= earliest

        return used

    def _decided_contacted(self, key: tuple[str, int, str], entry: PendingQuery) -> None:
        self.cancel(key)
        self._unawait(entry.ips, key)
        self._mark_contacted(key, entry.last_ts + self.config.wait)

    # Markers of names decided "contacted": per (profile, window), name -> the
    # due time its timer would have had (one dict slot and a float each; the
    # dict goes when the latest due time passes the watermark).
    def _contacted_due(self, key: tuple[str, int, str]) -> float | None:
        marks = self.table("contacted").get(key[:2])
        return None if marks is None else marks.get(key[2])

    def _mark_contacted(self, key: tuple[str, int, str], due: float) -> None:
        table = self.table("contacted")
        window = key[:2]
        marks = table.get(window)
        if marks is None:
            marks = {}
            table.set(window, marks, due)
        else:
            expiry = table.expiry(window)
            if expiry is None or due > expiry:
                table.set(window, marks, due)
        query = key[2]
        earlier = marks.get(query)
        if earlier is None or due > earlier:
            marks[query] = due

    def _awaiting(self) -> dict[tuple[str, str], tuple[tuple[str, int, str], ...]]:
        """(profile, answer IP) -> the pending queries it would decide. A plain
        dict in the checkpointed state: every key is removed when its query
        is decided (early, or when its timer fires; at end of input all fire)."""
        return self._state.values.setdefault(f"{self.id}.awaiting", {})

    def _await(self, ips: tuple[str, ...] | list[str], key: tuple[str, int, str]) -> None:
        """Index the pending query by (profile, answer) for ``_connection``."""
        awaiting = self._awaiting()
        profile = key[0]
        for ip in ips:
            index = (profile, ip)
            keys = awaiting.get(index)
            if keys is None:
                awaiting[index] = (key,)
            elif key not in keys:
                awaiting[index] = (*keys, key)

    def _unawait(self, ips: tuple[str, ...], key: tuple[str, int, str]) -> None:
        awaiting = self._awaiting()
        profile = key[0]
        for ip in ips:
            index = (profile, ip)
            keys = awaiting.get(index)
            if keys is None or key not in keys:
                continue
            if len(keys) == 1:
                del awaiting[index]
            else:
                awaiting[index] = tuple(k for k in keys if k != key)

    # -- internals ------------------------------------------------------------------
    def _warming_up(self) -> bool:
        started = self.table("live")
        first = started.get("wall_start")
        now = self.ctx.wall_clock()
        if first is None:
            started.set("wall_start", now, FOREVER)
            first = now
        return now - first < self.config.live_warmup

    def _contacted(self, entry: PendingQuery) -> bool:
        # The common case first: the host connected to one of the answers.
        if self._answer_contacted(entry):
            return True
        used = self._use_test(entry)
        candidates = dict.fromkeys(entry.ips)
        dns_names = self.facts_of(DnsNames)
        for name in (entry.query, *entry.cnames):
            for ip in dns_names.ips_of_domain(name):
                if len(candidates) >= MAX_CANDIDATES:
                    break
                candidates[ip] = None
        others = self.facts_of(DualStacks).other_ip_versions(entry.saddr)
        return any(used(entry.profile, ip) for ip in candidates if ip not in entry.ips) or any(
            used(other, ip) for other in others for ip in candidates
        )

    def _report(self, entry: PendingQuery) -> None:
        # Queries of this name decided earlier in the same window (reported
        # before): this report updates that evidence.
        reported = self.table("reported")
        rkey = (entry.profile, entry.twid, entry.query)
        earlier = reported.get(rkey)
        count, uids, first_ts = entry.count, entry.uids, entry.first_ts
        if earlier is not None:
            count += earlier[0]
            uids = tuple(dict.fromkeys([*earlier[1], *uids]))[:MAX_UIDS]
            first_ts = min(first_ts, earlier[2])
        # Kept while a later query of the same window can still be decided:
        # its query is at most one window width later, plus the lateness.
        keep = self.config.wait + self.ctx.config.parameters.width + self.ctx.config.time.allowed_lateness
        reported.set(rkey, (count, uids, first_ts), entry.last_ts + keep)
        query = escape_text(entry.query, limit=253)
        times = f" ({count} queries in this time window)" if count > 1 else ""
        self.report(
            DNS_WITHOUT_CONNECTION,
            profile=entry.profile,
            twid=entry.twid,
            ts=first_ts,
            attacker=src_ip(entry.saddr),
            victim=dst_domain(entry.query),
            uids=uids,
            details=WithoutConnectionDetails(query=entry.query, answers=sorted(entry.ips), cnames=sorted(entry.cnames),
                                             queries=count, wait=self.config.wait),
            description=(
                f"{entry.saddr} resolved {query} but made no connection to its answers within "
                f"{self.config.wait / 60:g} minutes{times}"
            ),
            count=count,
            occurrences=count,
            evidence_id=uuid_shaped(DNS_WITHOUT_CONNECTION.name, entry.profile, str(entry.twid), entry.query),
        )


def _merge(entry: PendingQuery, ts: float, uid: str, ips: tuple[str, ...], cnames: tuple[str, ...]) -> None:
    entry.count += 1
    entry.first_ts = min(entry.first_ts, ts)
    entry.last_ts = max(entry.last_ts, ts)
    if uid and len(entry.uids) < MAX_UIDS and uid not in entry.uids:
        entry.uids = (*entry.uids, uid)
    if any(ip not in entry.ips for ip in ips):
        entry.ips = tuple(dict.fromkeys((*entry.ips, *ips)))[:MAX_IPS]
    if any(name not in entry.cnames for name in cnames):
        entry.cnames = tuple(dict.fromkeys((*entry.cnames, *cnames)))[:MAX_IPS]
