"""The adapter both Slips hosts drive (in-process module and attach mode).

Written once here, so the two hosts cannot drift apart:

* decoding (``flowalerts.hosts.slips.decode``): Slips messages -> typed records,
  unusable ones counted per channel and field;
* flow time: an ``EventClock`` fed with each record's start time (``ts``),
  as the standalone profiler does; the module driver's timers and expiring
  tables follow its watermark (``advance``);
* time windows are Slips's: a record carries Slips's profile and window
  number, and Slips's ``tw_closed`` says a window ended. It means for us what
  the standalone profiler's ``TwClosed`` means: the window takes no more
  records (a record whose (profile, window) Slips already closed is **late**,
  ``Message.late``: the driver counts it and detections never mix it into a
  reopened, empty window), and the driver closes it ``close_delay`` seconds
  of flow time later (``ModuleDriver.window_closed``: the largest
  ``window_close_delay`` of the detections, e.g. 300 s while decisions that
  wait for other logs are still due). So the final report (update) of an
  aggregated evidence of that window comes when the watermark passes that
  delay, or at ``finish``, not with the ``tw_closed`` message itself;
* the channels to read: the record channels the module's detections and
  learners use that Slips publishes, plus ``tw_closed``. Detections needing a
  log Slips does not publish (x509.log) do not run and are listed;
* the end of Slips's input (a file or folder): Slips publishes no end
  message and stops its evidence handler as soon as it stops (it does not
  wait for anything outside its own processes). Decisions that wait for flow
  time would come only then, and an attached process's evidence would be
  stored but never logged or alerted. So the hosts read Slips's own progress
  figures while they are idle (``input_complete``) and the input is complete
  when either
    - Slips says so: its key ``will_slips_have_more_flows`` is "no" (set once
      its profiler has published every record of a finite input; its own
      modules read it), or, earlier (Slips sets that key only about 20 s
      after its last record, when it is about to stop),
    - Slips's profiler has processed every flow its input counted
      (``processed_flows_by_profiler_so_far`` >= ``total_flows`` of the hash
      ``analysis``, what Slips shows as "Analyzed Flows: 100%"), that count
      did not move and no message came for ``QUIET_SECONDS``. Slips counts
      ``total_flows`` only for finite input (0 for a growing Zeek folder, none
      for an interface), so live input waits for the key.
  Then the host publishes ``barrier_token`` on ``BARRIER_CHANNEL``, which it
  also reads: Redis delivers it after every message Slips published before,
  and when it comes back the host settles (``finish``: every timer fires,
  every window closes), as the standalone host does at the end of its input.
  A record after that is late (counted); Slips's ``tw_closed`` at its
  shutdown finds the windows settled already;
* delivery accounting: each evidence becomes Slips's JSON shape
  (``flowalerts.hosts.slips.encode``) or is not sent (counted, one note per type);
  a second evidence with an id already delivered is an **update** of an
  aggregated evidence, never a second evidence; after each version of an
  aggregated evidence come its **weight steps** (``encode.WeightSteps``:
  new evidence with deterministic ids, so that Slips's alert arithmetic
  weighs what the aggregate stands for), unless Slips did not keep the
  aggregate (whitelisted, refused) - then its steps are skipped;
* detection failures: the driver isolates them; the host reports the first
  of each (detection, hook) once and counts them all.

The host gives the adapter messages and takes ``Outgoing`` items back; how
they reach Slips (its DB API in-process, Redis writes in attach mode) is the
host's.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from flowalerts.core.clock import ClockPolicy, EventClock
from flowalerts.core.config import Config
from flowalerts.core.evidence import Evidence, escape_text
from flowalerts.core.messages import TW_CLOSED, Advance, End, Message, TwClosed
from flowalerts.engine.driver import ModuleDriver
from flowalerts.hosts.slips.decode import SLIPS_LOGS, SLIPS_RECORD_CHANNELS, SlipsDecoder
from flowalerts.hosts.slips.encode import DeliveryStats, WeightSteps, slips_payload, slips_type
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import Lookups, NullLookups

# Slips's flag: "no" once every record of its input was published (see the module doc).
INPUT_DONE_KEY = "will_slips_have_more_flows"
INPUT_DONE_VALUE = "no"
# Slips's progress figures: flows its input counted, flows its profiler processed.
ANALYSIS_KEY = "analysis"
TOTAL_FLOWS_FIELD = "total_flows"
PROCESSED_FLOWS_KEY = "processed_flows_by_profiler_so_far"
# Seconds of quiet (no message, no progress) at 100% before the input is complete.
QUIET_SECONDS = 3.0
# Our own channel for the end-of-input barrier (not one of Slips's).
BARRIER_CHANNEL = "flowalerts_input_done"
# Seconds between two readings of Slips's progress while idle.
INPUT_DONE_POLL = 0.5
# Closed (profile, window) pairs remembered for the late-record rule.
MAX_CLOSED_WINDOWS = 200_000
# Evidence ids remembered to tell an update from a new evidence.
MAX_SENT_IDS = 500_000


@dataclasses.dataclass
class Outgoing:
    """One evidence for Slips: its payload (Slips's JSON shape), whether it
    updates an evidence already delivered (same id), and ``step`` > 0 for a
    weight step of ``evidence`` (a new evidence, ``encode.WeightSteps``)."""

    evidence: Evidence
    payload: dict[str, Any]
    update: bool
    step: int = 0

    @property
    def aggregate_id(self) -> str:
        """The Slips id of the evidence this item is (or is a step of)."""
        return self.payload["rel_id"][0] if self.step else self.payload["id"]


# Outcomes a host reports for an Outgoing.
DELIVERED = "delivered"
UPDATED = "updated"
UPDATE_NOT_STORED = "update_not_stored"
REFUSED = "refused"
FAILED = "failed"
SKIPPED = "skipped"  # a weight step of an aggregate Slips did not keep


class _Bounded:
    """An insertion-ordered set that forgets its oldest entries past ``cap``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._items: OrderedDict[Any, None] = OrderedDict()
        self.forgotten = 0

    def __contains__(self, item: Any) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Any) -> None:
        self._items[item] = None
        if len(self._items) > self.cap:
            self._items.popitem(last=False)
            self.forgotten += 1


class SlipsHost:
    """Slips messages in, ``Outgoing`` evidence out. See the module docstring."""

    def __init__(
        self,
        config: Config,
        knowledge: Knowledge | None = None,
        lookups: Lookups | None = None,
        *,
        info: Callable[[str], None] = lambda text: None,
        warn: Callable[[str], None] = lambda text: None,
        strict: bool = False,
        version: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.monotonic = monotonic
        self.info = info
        self.warn = warn
        self.driver = ModuleDriver(
            config,
            knowledge or Knowledge.empty(),
            lookups or NullLookups(),
            available_logs=set(SLIPS_LOGS),
            notify=info,
            strict=strict,
        )
        used = self.driver.channels & set(SLIPS_RECORD_CHANNELS)
        self.record_channels = tuple(sorted(used))
        self.channels = (*self.record_channels, TW_CLOSED)
        self.decoder = SlipsDecoder(set(used), warn=warn, version=version)
        self.clock = EventClock(ClockPolicy.from_config(config))
        self.closed = _Bounded(MAX_CLOSED_WINDOWS)
        self.sent = _Bounded(MAX_SENT_IDS)
        self.weight_steps = WeightSteps(config.alert_threshold)
        # Aggregates Slips did not keep (whitelisted, refused): no steps for them.
        self._not_kept = _Bounded(MAX_SENT_IDS)
        self.delivery = DeliveryStats()
        self.produced: Counter[str] = Counter()
        self.windows_closed = 0
        self.duplicate_closes = 0
        self._reported_failures: set[str] = set()
        self._noted_types: set[str] = set()
        self.finished = False
        # The end-of-input barrier: only our own token ends the input.
        self.barrier_token = uuid.uuid4().hex
        self.input_ended = False
        self.end_reason = ""
        self.after_end: Counter[str] = Counter()
        self._last_message_at = monotonic()
        self._progress: tuple[int, float] | None = None
        # Idle polling of Slips's progress (poll_input_end).
        self._input_checked_at = float("-inf")
        self.barrier_published = False

    # -- input --------------------------------------------------------------------------------
    def input_complete(self, more_flows: Any, total_flows: Any, processed_flows: Any) -> str:
        """Slips's figures, read by the host while idle: why its input is
        complete ("" while it is not, or once the host has finished). The host
        then sends the barrier (see the module doc)."""
        if self.finished:
            return ""
        if _text(more_flows) == INPUT_DONE_VALUE:
            return f"Slips set {INPUT_DONE_KEY} to {INPUT_DONE_VALUE!r}"
        total, processed = _count(total_flows), _count(processed_flows)
        now = self.monotonic()
        if not total or processed is None or processed < total:
            self._progress = None
            return ""
        if self._progress is None or self._progress[0] != processed:
            self._progress = (processed, now)
            return ""
        quiet = min(now - self._progress[1], now - self._last_message_at)
        if quiet < QUIET_SECONDS:
            return ""
        return (f"Slips's profiler processed {processed} flows of the {total} its input counted, "
                f"and nothing came for {QUIET_SECONDS:g} s")

    def poll_input_end(
        self, read: Callable[[], tuple[Any, Any, Any]], publish: Callable[[str], None]
    ) -> None:
        """While idle, both hosts call this: at most every ``INPUT_DONE_POLL``
        seconds it reads Slips's progress (``read`` returns the
        ``INPUT_DONE_KEY`` value, the total flows and the flows processed) and,
        once the input is complete (``input_complete``), publishes the barrier
        token (``publish``), once. Errors of ``read`` and ``publish`` reach the
        caller, which knows its connection (``give_up_input_end``,
        ``barrier_lost``)."""
        now = self.monotonic()
        if self.finished or self.barrier_published or now - self._input_checked_at < INPUT_DONE_POLL:
            return
        self._input_checked_at = now
        reason = self.input_complete(*read())
        if reason:
            publish(self.barrier_token)
            self.barrier_sent(reason)
            self.barrier_published = True

    def give_up_input_end(self) -> None:
        """Slips's progress cannot be read: the end comes when Slips stops (``finish``)."""
        self.barrier_published = True

    def barrier_lost(self) -> None:
        """The connection the barrier went out on was lost: it never comes back, poll again."""
        self.barrier_published = False

    def on_message(self, channel: str, data: bytes | str) -> list[Evidence]:
        """One message as Slips published it (or our barrier) -> the evidence it produced."""
        if channel == BARRIER_CHANNEL:
            return self._barrier(data)
        self._last_message_at = self.monotonic()
        item = self.decoder.decode(channel, data)
        if item is None:
            return []
        if isinstance(item, TwClosed):
            return self._close(item.profile, item.twid)
        return self._record(item)

    def barrier_sent(self, reason: str) -> None:
        """The host published the barrier because of ``reason`` (from ``input_complete``)."""
        self.end_reason = reason

    def _barrier(self, data: bytes | str) -> list[Evidence]:
        if _text(data) != self.barrier_token or self.finished:
            return []
        self.input_ended = True
        self.info(f"Slips's input is complete ({self.end_reason or 'barrier'}): settling every timer and window now")
        return self.finish()

    def _record(self, msg: Message[Any]) -> list[Evidence]:
        if self.finished:
            # Slips said its input was complete; the windows are settled.
            self.after_end[msg.flow.channel] += 1
            msg.late = True
            return self._account(self.driver.feed([msg]))
        msg.late = (msg.profile, msg.twid) in self.closed
        items: list[Any] = [msg]
        if self.clock.observe(msg.flow.starttime).ok and self.clock.watermark > self.driver.watermark:
            items.append(Advance(self.clock.watermark))
        return self._account(self.driver.feed(items))

    def _close(self, profile: str, twid: int) -> list[Evidence]:
        """Slips ended (profile, twid): late rule from now on; the driver
        settles the window after its ``close_delay`` (usually not yet)."""
        key = (profile, twid)
        if key in self.closed:
            self.duplicate_closes += 1
            return []
        self.closed.add(key)
        self.windows_closed += 1
        if self.finished:
            return []  # settled at the end of the input already
        return self._account(self.driver.feed([TwClosed(profile, twid)]))

    def finish(self) -> list[Evidence]:
        """The host is ending: every timer fires, every open window closes."""
        if self.finished:
            return []
        self.finished = True
        self.clock.finish()
        return self._account(self.driver.feed([End()]))

    # -- output -------------------------------------------------------------------------------
    def _account(self, evidences: list[Evidence]) -> list[Evidence]:
        for evidence in evidences:
            self.produced[evidence.evidence_type] += 1
        return evidences

    def prepare(self, evidences: Iterable[Evidence]) -> list[Outgoing]:
        """Slips's shape for each evidence that Slips can take (the others are
        counted, with one note per type)."""
        out = []
        for evidence in evidences:
            name = slips_type(evidence.evidence_type)
            if name is None:
                self.delivery.not_in_slips[evidence.evidence_type] += 1
                if evidence.evidence_type not in self._noted_types:
                    self._noted_types.add(evidence.evidence_type)
                    self.info(
                        f"evidence type {evidence.evidence_type} has no Slips type: not sent to Slips "
                        "(counted; see the README's type mapping)"
                    )
                continue
            if name != evidence.evidence_type:
                self.delivery.mapped[(evidence.evidence_type, name)] += 1
            payload = slips_payload(evidence, name)
            update = payload["id"] in self.sent
            self.sent.add(payload["id"])
            out.append(Outgoing(evidence, payload, update))
            for index, step in self.weight_steps.plan(evidence, payload):
                out.append(Outgoing(evidence, step, update=False, step=index))
        return out

    def wanted(self, item: Outgoing) -> bool:
        """Whether the host should deliver ``item``: not a step of an aggregate
        Slips did not keep (its outcome came first: steps follow their aggregate)."""
        return not (item.step and item.aggregate_id in self._not_kept)

    def outcome(self, item: Outgoing, result: str) -> None:
        """The host says what became of ``item``."""
        if item.step:
            name = item.evidence.evidence_type
            if result == DELIVERED:
                self.delivery.steps[name] += 1
            else:
                self.delivery.steps_not_stored[name] += 1
            return
        if result in (REFUSED, UPDATE_NOT_STORED, FAILED):
            self._not_kept.add(item.payload["id"])
        counters = {
            DELIVERED: self.delivery.delivered,
            UPDATED: self.delivery.updated,
            UPDATE_NOT_STORED: self.delivery.update_not_stored,
            REFUSED: self.delivery.refused,
            FAILED: self.delivery.failed,
        }
        counters[result][item.evidence.evidence_type] += 1

    # -- health -------------------------------------------------------------------------------
    def new_failures(self) -> list[str]:
        """One line for each (detection, hook) that failed for the first time since last asked."""
        lines = []
        health = self.driver.health
        for key in sorted(health.errors):
            if key in self._reported_failures:
                continue
            self._reported_failures.add(key)
            trace = health.first_traceback.get(key, "").strip().splitlines()
            last = trace[-1] if trace else "?"
            lines.append(
                f"detection {key} failed (isolated, the others go on; further failures are counted): "
                f"{escape_text(last, limit=300)}"
            )
        return lines

    @property
    def failures(self) -> int:
        return sum(self.driver.health.errors.values())

    def skipped_detections(self) -> dict[str, str]:
        return dict(self.driver.health.skipped)

    def summary_lines(self) -> list[str]:
        """The report of a run (both hosts print it at the end)."""
        stats = self.decoder.stats
        lines = [
            f"messages received: {sum(stats.received.values())} "
            f"(records decoded {sum(v for k, v in stats.decoded.items() if k != TW_CLOSED)}, "
            f"windows closed {self.windows_closed}, not used {sum(stats.not_used.values())}, "
            f"without a profile {sum(stats.no_profile.values())}, rejected {stats.total_rejected})"
        ]
        for (channel, field), count in sorted(stats.rejected.items()):
            lines.append(
                f"  rejected on {channel}, field {field}: {count} (first: {stats.first_example.get((channel, field), '')})"
            )
        if stats.other_version:
            lines.append(f"  skipped (published by another Slips version): {sum(stats.other_version.values())}")
        if len(stats.versions) > 1:
            lines.append("  several Slips versions published: " + ", ".join(f"{v} x{n}" for v, n in stats.versions.items()))
        late = sum(self.driver.health.late_records.values())
        if late:
            parts = ", ".join(f"{name} {count}" for name, count in sorted(self.driver.health.late_records.items()))
            lines.append(f"late records (their window was already closed by Slips): {late} ({parts})")
        if self.input_ended:
            lines.append(f"Slips's input was complete before it stopped ({self.end_reason}): every window settled then")
        if self.after_end:
            parts = ", ".join(f"{name} {count}" for name, count in sorted(self.after_end.items()))
            lines.append(f"records after the end of Slips's input (late): {sum(self.after_end.values())} ({parts})")
        if self.clock.jumps_held or self.clock.jumps_confirmed:
            lines.append(f"flow-time jumps: {self.clock.jumps_held} held, {self.clock.jumps_confirmed} confirmed")
        d = self.delivery
        lines.append(
            f"evidence: {sum(self.produced.values())} produced, {sum(d.delivered.values())} stored in Slips, "
            f"{sum(d.updated.values())} updates, {sum(d.not_in_slips.values())} not sent (no Slips type), "
            f"{sum(d.refused.values())} refused by Slips, {sum(d.failed.values())} failed"
            + (f", {d.pending} pending" if d.pending else "")
            + f"; weight steps: {sum(d.steps.values())} stored in Slips"
            + (f", {sum(d.steps_not_stored.values())} not stored" if d.steps_not_stored else "")
        )
        for name in sorted(self.produced):
            parts = [f"produced {self.produced[name]}", f"stored {d.delivered[name]}"]
            for label, counter in (
                ("updates", d.updated),
                ("updates of evidence Slips dropped", d.update_not_stored),
                ("weight steps", d.steps),
                ("weight steps not stored", d.steps_not_stored),
                ("refused", d.refused),
                ("not sent", d.not_in_slips),
                ("failed", d.failed),
            ):
                if counter[name]:
                    parts.append(f"{label} {counter[name]}")
            mapped = [slips for (ours, slips) in d.mapped if ours == name]
            if mapped:
                parts.append("as " + ", ".join(sorted(mapped)))
            lines.append(f"  {name:<34} " + ", ".join(parts))
        health = self.driver.health
        if health.errors:
            lines.append("detection failures (isolated): " + ", ".join(f"{k} x{v}" for k, v in sorted(health.errors.items())))
        for ident, reason in sorted(health.skipped.items()):
            lines.append(f"not run inside Slips: {ident} ({reason}, which Slips does not publish)")
        return lines


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _count(value: Any) -> int | None:
    """A counter Slips stores as text (None: absent or not a number)."""
    text = _text(value) if not isinstance(value, int) else str(value)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
