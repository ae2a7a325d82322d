"""Driver: windows closed late for detections that wait (``window_close_delay``), timers that run
with the state as of their due time, and tallies that never report late records under a settled id
(issues 12, 13)."""

from __future__ import annotations

from flowalerts.core.config import SectionConfig, parse_config
from flowalerts.core.evidence import EvidenceKind, ThreatLevel, src_ip
from flowalerts.core.messages import Message
from flowalerts.engine.detection import Detection
from flowalerts.engine.driver import ModuleDriver
from tests.harness import CLIENT, T0, Harness, config, conn

WAITED = EvidenceKind("TEST_WAITED", ThreatLevel.LOW, 0.5)


class Waits(Detection, register=False):
    """Counts each record in its window's tally 100 s of flow time after it started."""

    id = "test_waits"
    channels = ("new_flow",)
    evidence = (WAITED,)

    def window_close_delay(self):
        return 100.0

    def handle(self, msg):
        if not msg.late:
            self.schedule(msg.flow.uid, msg.flow.starttime + 100.0, msg)

    def on_timer(self, key, msg):
        self.tally(msg, "all", 1)

    def report_tally(self, profile, twid, key, tally):
        self.report(WAITED, profile=profile, twid=twid, ts=tally.first_ts, attacker=src_ip(profile),
                    description="waited", uids=tally.uids, count=tally.count,
                    evidence_id=self.tally_id(WAITED, profile, twid, key))


def test_windows_close_after_the_largest_delay_so_waiting_decisions_count_in_their_window():
    records = [conn(uid="A", starttime=T0), conn(uid="B", starttime=T0 + 3590)]
    records += [conn(uid=f"S{i}", saddr="10.9.9.9", starttime=T0 + 3600 + i * 30) for i in range(200)]
    harness = Harness(Waits)
    assert harness.driver.close_delay == 100.0
    out = harness.feed(*records).evidence()
    assert [(e.profile, e.timewindow, e.count, e.uids) for e in out if e.profile == CLIENT] == [
        (CLIENT, 1, 2, ["A", "B"])]


def test_without_a_delay_windows_close_at_once():
    driver = ModuleDriver(config(), detections=[])
    driver.advance(T0)
    driver.state.window("x", CLIENT, 1)["k"] = 1
    driver.window_closed(CLIENT, 1)
    assert driver.close_delay == 0.0 and driver.state.peek_window("x", CLIENT, 1) is None


def test_a_deferred_close_happens_when_the_watermark_passes_it():
    driver = ModuleDriver(config(), detections=[Waits])
    driver.advance(T0 + 3600)
    driver.state.window("test_waits", CLIENT, 1)["k"] = 1
    assert driver.window_closed(CLIENT, 1) == []
    assert driver.state.peek_window("test_waits", CLIENT, 1) == {"k": 1}
    driver.advance(T0 + 3699)
    assert driver.state.peek_window("test_waits", CLIENT, 1) == {"k": 1}
    driver.advance(T0 + 3700)
    assert driver.state.peek_window("test_waits", CLIENT, 1) is None
    assert driver.processed["tw_closed"] == 1


class Remembers(Detection, register=False):
    """Remembers a fact for 60 s of flow time and checks it 50 s later."""

    id = "test_remembers"
    channels = ("new_flow",)
    evidence = (WAITED,)

    def handle(self, msg):
        self.table("seen").set(msg.flow.uid, True, msg.flow.starttime + 60.0)
        self.schedule(msg.flow.uid, msg.flow.starttime + 50.0, msg)

    def on_timer(self, key, msg):
        if self.table("seen").get(key):
            self.report(WAITED, msg=msg, attacker=src_ip(msg.profile), description="still known")


def test_a_timer_sees_the_state_as_of_its_due_time_even_after_a_gap():
    driver = ModuleDriver(config(), detections=[Remembers])
    driver.advance(T0)
    driver.handle(Message(profile=CLIENT, twid=1, flow=conn(uid="A", starttime=T0)))
    # The next watermark is a day later (a gap in the capture): the table entry
    # expired long before, but not before the timer due 50 s after the record.
    out = driver.advance(T0 + 86400)
    assert [e.uids for e in out] == [["A"]]
    assert driver.state.table("test_remembers.seen").get("A") is None


def test_a_tally_never_reports_a_late_record_under_the_settled_id():
    class Counts(Detection, register=False):
        id = "test_counts"
        channels = ("new_flow",)
        evidence = (WAITED,)

        def handle(self, msg):
            self.tally(msg, "k", 1)

        def report_tally(self, profile, twid, key, tally):
            self.report(WAITED, profile=profile, twid=twid, ts=tally.first_ts, attacker=src_ip(profile),
                        description="n", count=tally.count, evidence_id=self.tally_id(WAITED, profile, twid, key))

    driver = ModuleDriver(config(), detections=[Counts])
    driver.handle(Message(profile=CLIENT, twid=1, flow=conn(uid="A")))
    driver.handle(Message(profile=CLIENT, twid=1, flow=conn(uid="B")))
    settled = driver.window_closed(CLIENT, 1)
    assert [e.count for e in settled] == [2]
    assert driver.handle(Message(profile=CLIENT, twid=1, flow=conn(uid="C"), late=True)) == []
    assert driver.health.late_window_use["test_counts"] == 1


def test_a_flat_slips_key_feeds_every_detection_that_declares_it():
    class One(SectionConfig):
        warmup: float = 30.0
        slips_keys = {"live_warmup_minutes": "warmup"}

    class Two(SectionConfig):
        minutes: float = 30.0
        slips_keys = {"live_warmup_minutes": "minutes"}

    parsed, _ = parse_config({"flow_alerts": {"live_warmup_minutes": 5, "two": {"minutes": 7}}},
                             sections={"one": One, "two": Two})
    # The detection's own section wins over the flat key.
    assert (parsed.flow_alerts["one"].warmup, parsed.flow_alerts["two"].minutes) == (5.0, 7.0)
