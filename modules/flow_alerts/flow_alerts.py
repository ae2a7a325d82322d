"""Flowalerts as a Slips module: the class Slips 1.1.21 loads.

Slips's process manager imports ``modules/<name>/<name>.py`` from its own
tree and starts every ``IModule`` subclass in it. ``flowalerts slips-install
PATH_TO_SLIPS`` puts this folder in place of Slips's ``modules/flow_alerts``;
the ``flowalerts`` package itself must be installed in Slips's Python
(``pip install flowalerts``): this file only glues the two together. It
imports Slips (``slips_files.*`` here are Slips's packages), so it is never
imported outside Slips.

In Slips's module process:

* one Redis subscription for every channel the module reads, so messages come
  in the order Slips published them (a flow before the ``tw_closed`` that
  follows it); Slips's version check applies, as in its own modules;
* each message goes through ``flowalerts.hosts.slips.host.SlipsHost`` (decoding,
  flow time, Slips's windows and ``tw_closed``, the late-record rule, the
  module driver), the same adapter the attach mode uses;
* evidence goes to Slips through its DB API: an ``Evidence`` built with
  Slips's classes, handed to ``set_evidence``, so Slips stores it, publishes
  it, and its evidence handler, whitelist, alerts and outputs work
  unchanged. An update of an aggregated evidence (same id) rewrites the
  stored object's count-dependent fields in place (description, uids,
  threat level, confidence) and is not published again (Slips would count
  it twice); the weight steps of an aggregated evidence (``SlipsHost.prepare``)
  are new evidence, stored and published like any other, so Slips's alert
  arithmetic weighs what the aggregate stands for;
* when Slips's input is complete (its progress figures, read through its DB
  API while idle, two times a second: ``SlipsHost.input_complete``) the module
  publishes a barrier on a channel of its own and, when it comes back, every
  timer fires and every window settles (``SlipsHost``), so evidence that waits
  for flow time reaches Slips during the analysis, as in the attach mode;
* detection failures are isolated by the driver and printed to Slips's log
  (errors.log) once per detection and hook, then counted;
* at shutdown every timer fires and every window still open settles; the
  summary goes to Slips's log and to ``<output>/flow_alerts/flowalerts_summary.txt``.
"""

from __future__ import annotations

import json
import time
from typing import Any

from slips_files.common.abstracts.imodule import IModule
from slips_files.core.structures.evidence import (
    Attacker,
    Direction,
    Evidence,
    EvidenceType,
    IoCType,
    Method,
    ProfileID,
    Proto,
    ThreatLevel,
    TimeWindow,
    Victim,
)

try:
    from flowalerts import __version__ as FLOWALERTS_VERSION
    from flowalerts.core.config import ConfigError
    from flowalerts.hosts.slips.encode import FLOWS_CAUSING_EVIDENCE, WHITELISTED_EVIDENCE, evidence_hash, update_fields
    from flowalerts.hosts.slips.host import (
        BARRIER_CHANNEL,
        DELIVERED,
        FAILED,
        INPUT_DONE_KEY,
        REFUSED,
        SKIPPED,
        UPDATE_NOT_STORED,
        UPDATED,
        Outgoing,
        SlipsHost,
    )
    from flowalerts.hosts.slips.settings import config_from_slips
    from flowalerts.knowledge import Knowledge
except ImportError as exc:  # pragma: no cover - only inside a Slips without our package
    raise ImportError(
        "the Flowalerts module needs the flowalerts package in Slips's Python environment "
        f"(pip install flowalerts, with Slips's pip): {exc}"
    ) from exc

# Messages handled per call of main() (Slips calls it in a loop).
BATCH = 500
# Seconds main() waits for a message when there is none.
POLL_SECONDS = 0.05
_ENTITY_EXTRAS = ("TI", "AS", "rDNS", "SNI", "DNS_resolution", "queries", "CNAME")


def _entity(cls: Any, data: dict[str, Any]) -> Any:
    kwargs = {key: data[key] for key in _ENTITY_EXTRAS if data.get(key) is not None}
    return cls(direction=Direction[data["direction"]], ioc_type=IoCType[data["ioc_type"]], value=data["value"], **kwargs)


def slips_evidence(payload: dict[str, Any]) -> Evidence:
    """Slips's Evidence object for one payload of ``flowalerts.hosts.slips.encode``."""
    kwargs: dict[str, Any] = {}
    if payload.get("victim"):
        kwargs["victim"] = _entity(Victim, payload["victim"])
    if payload.get("proto"):
        kwargs["proto"] = Proto[payload["proto"].upper()]
    return Evidence(
        evidence_type=EvidenceType[payload["evidence_type"]],
        description=payload["description"],
        attacker=_entity(Attacker, payload["attacker"]),
        threat_level=ThreatLevel[payload["threat_level"]],
        profile=ProfileID(ip=payload["profile"]["ip"]),
        timewindow=TimeWindow(number=payload["timewindow"]["number"]),
        uid=list(payload["uid"]),
        timestamp=payload["timestamp"],
        dst_port=payload["dst_port"],
        src_port=payload["src_port"],
        method=Method.HEURISTIC,
        id=payload["id"],
        confidence=payload["confidence"],
        rel_id=payload["rel_id"],
        **kwargs,
    )


class FlowAlerts(IModule):
    name = "flow_alerts"
    description = f"Flowalerts {FLOWALERTS_VERSION}: behavioural detections on flows (replaces Slips's flow_alerts)"
    authors = ["Flowalerts developers"]

    def init(self) -> None:
        # Runs in Slips's main process; the work starts in the module process.
        self.channels = {}
        self.host: SlipsHost | None = None
        self._pubsub: Any = None
        self._store_errors = 0
        self._started = time.monotonic()

    # -- Slips's hooks ----------------------------------------------------------------------
    def subscribe_to_channels(self) -> None:
        try:
            config, notes = config_from_slips(getattr(self.conf, "config", None))
        except ConfigError as exc:
            self.print(f"Flowalerts not started: {exc}", 1, 1)
            return
        for note in notes:
            self.print(note, 2, 0)
        self.host = SlipsHost(
            config,
            Knowledge.load(config, notify=lambda text: self.print(text, 2, 0)),
            info=lambda text: self.print(text, 2, 0),
            warn=lambda text: self.print(text, 1, 1),
            version=self.slips_version,
        )
        first, *rest = self.host.channels
        pubsub = self.db.subscribe(first)
        if not pubsub:
            self.print(f"Flowalerts not started: Slips refused the subscription to {first}", 1, 1)
            self.host = None
            return
        # Our end-of-input barrier comes on the same subscription, after every
        # record Slips published before it.
        pubsub.subscribe(*rest, BARRIER_CHANNEL)
        self._pubsub = pubsub
        # One subscription for all channels: IModule's bookkeeping sees each name.
        self.channels = {channel: pubsub for channel in self.host.channels}
        for ident, reason in sorted(self.host.skipped_detections().items()):
            self.print(f"detection {ident} not run: it {reason}, which Slips does not publish", 2, 0)

    def pre_main(self) -> bool:
        # True stops the module (Slips's convention): nothing to run without a host.
        return self.host is None

    def main(self) -> None:
        host = self.host
        assert host is not None
        got = 0
        evidences = []
        while got < BATCH:
            message = self.db.get_message(self._pubsub, timeout=0 if got else POLL_SECONDS)
            if not message:
                break
            if message.get("type") not in ("message", b"message"):
                continue  # subscription confirmations
            channel = message.get("channel")
            if isinstance(channel, bytes):
                channel = channel.decode("utf-8", "replace")
            got += 1
            evidences.extend(host.on_message(channel, message.get("data")))
        for tracker in self.channel_tracker.values():
            tracker["msg_received"] = got > 0
        if not got:
            self._check_input_done()
        self._deliver(evidences)

    def _check_input_done(self) -> None:
        """Idle: has Slips published every record of its input? Then send the barrier."""
        host = self.host
        if host is None:
            return
        db = self.db
        try:
            host.poll_input_end(
                # The key itself (absent: not known to be complete); Slips's own
                # will_slips_have_new_incoming_flows() reads it as a bool.
                lambda: (db.rdb.r.get(INPUT_DONE_KEY), db.get_total_flows(),
                         db.rdb.get_flow_analyzed_by_the_profiler_so_far()),
                # Not Slips's publish (it counts and versions its own channels'
                # messages): a plain PUBLISH on our own channel.
                lambda token: db.rdb.r.publish(BARRIER_CHANNEL, token),
            )
        except Exception as exc:  # Slips's DB raised: the end comes at shutdown instead
            host.give_up_input_end()
            self.print(f"Flowalerts: cannot read Slips's progress ({type(exc).__name__}: {exc}); "
                       "settling at shutdown", 1, 1)

    def shutdown_gracefully(self) -> None:
        host = self.host
        if host is None:
            return
        try:
            self._deliver(host.finish())
        finally:
            self._close_subscription()
            lines = host.summary_lines()
            d = host.delivery
            self.print(
                f"Flowalerts: {sum(host.decoder.stats.received.values())} messages, "
                f"{sum(host.produced.values())} evidence ({sum(d.delivered.values())} stored in Slips, "
                f"{sum(d.updated.values())} updates, {sum(d.steps.values())} weight steps, "
                f"{sum(d.not_in_slips.values())} without a Slips type), "
                f"{host.failures} detection failures, {host.decoder.stats.total_rejected} messages rejected",
                1,
                0,
            )
            try:
                path = self.get_module_specific_output_path("flowalerts_summary.txt")
                with open(path, "w", encoding="utf-8") as out:
                    out.write("\n".join(lines) + "\n")
            except OSError as exc:
                self.print(f"Flowalerts: cannot write its summary: {exc}", 0, 1)

    # -- delivery ---------------------------------------------------------------------------
    def _deliver(self, evidences: list[Any]) -> None:
        host = self.host
        assert host is not None
        for line in host.new_failures():
            self.print(line, 1, 1)
        for item in host.prepare(evidences):
            if not host.wanted(item):
                host.outcome(item, SKIPPED)
                continue
            host.outcome(item, self._update(item) if item.update else self._store(item))

    def _store(self, item: Outgoing) -> str:
        try:
            stored = self.db.set_evidence(slips_evidence(item.payload))
        except Exception as exc:  # Slips's DB raised: count, report once
            return self._failed(item, exc)
        return DELIVERED if stored else REFUSED

    def _update(self, item: Outgoing) -> str:
        """Rewrite the stored object's count-dependent fields (Slips's
        ``set_evidence`` keeps the first version of an id)."""
        payload = item.payload
        try:
            client = self.db.rdb.r
            key, ident = evidence_hash(payload), payload["id"]
            stored = client.hget(key, ident)
            if stored is None or client.sismember(WHITELISTED_EVIDENCE, ident):
                return UPDATE_NOT_STORED
            current = json.loads(stored)
            current.update(update_fields(payload))
            client.hset(key, ident, json.dumps(current))
            client.hset(FLOWS_CAUSING_EVIDENCE, ident, json.dumps(payload["uid"]))
        except Exception as exc:
            return self._failed(item, exc)
        return UPDATED

    def _failed(self, item: Outgoing, exc: Exception) -> str:
        self._store_errors += 1
        if self._store_errors <= 3:
            self.print(
                f"Flowalerts: Slips's DB refused evidence {item.evidence.evidence_type}: {type(exc).__name__}: {exc}",
                1,
                1,
            )
        return FAILED

    def _close_subscription(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        # IModule would unsubscribe once per channel name; one subscription is ours to close.
        self.channels = {}
        if pubsub is not None:
            try:
                pubsub.unsubscribe()
                pubsub.close()
            except Exception:
                pass
