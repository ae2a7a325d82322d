"""Weight steps (issue 25): extra Slips evidence for an aggregated evidence,
so that Slips's alert arithmetic (threat level x confidence of each stored
evidence, once) weighs what the aggregate stands for."""

from __future__ import annotations

import re

from flowalerts.core.evidence import ThreatLevel, dst_ip, src_ip
from flowalerts.hosts.slips.encode import MAX_STEPS, WeightSteps, slips_payload, slips_weight, step_id
from flowalerts.hosts.slips.host import DELIVERED, SKIPPED, UPDATE_NOT_STORED, UPDATED, SlipsHost
from tests.harness import config
from tests.slips_support import evidence

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LEVEL = 15.0  # Slips's default: 0.25 x 3600 / 60


def aggregate(count: int, occurrences: int | None = None, **kw):
    """An UNKNOWN_PORT-like aggregate: ``count`` flows, one occurrence each."""
    fields = dict(evidence_type="UNKNOWN_PORT", threat_level=ThreatLevel.HIGH, confidence=1.0,
                  uids=[f"C{n:04d}" for n in range(count)], count=count,
                  occurrences=count if occurrences is None else occurrences, dst_port=4444)
    fields.update(kw)
    # The aggregation key's id: the same for every version (first report, updates).
    fields.setdefault("id", f"agg-{fields.get('profile', '10.0.0.5')}-{fields['dst_port']}-"
                            f"{fields.get('timewindow', 3)}")
    return evidence(**fields)


def plan(steps: WeightSteps, e):
    return steps.plan(e, slips_payload(e, e.evidence_type))


def slips_sum(payloads) -> float:
    return sum(slips_weight(p) for p in payloads)


def test_an_aggregate_gets_steps_until_slips_weighs_what_it_stands_for():
    steps = WeightSteps(LEVEL)
    e = aggregate(4)  # 4 x 0.8 = 3.2, below the alert level
    planned = plan(steps, e)
    assert [index for index, _ in planned] == [1, 2, 3]
    base = slips_payload(e, "UNKNOWN_PORT")
    assert slips_sum([base] + [p for _, p in planned]) == e.weight
    for index, p in planned:
        assert p["id"] == step_id(base["id"], index) and UUID4.match(p["id"])
        assert p["rel_id"] == [base["id"]]
        assert p["evidence_type"] == "UNKNOWN_PORT" and p["attacker"] == base["attacker"]
        assert (p["threat_level"], p["confidence"]) == ("HIGH", 1.0)
        assert p["uid"] == [f"C{index:04d}"]  # its share of the aggregate's flows
        assert p["description"].endswith(f"[weight step {index}: occurrence {index + 1} of 4 of evidence {base['id']}]")
    # Deterministic: the same evidence gives the same steps.
    assert plan(WeightSteps(LEVEL), e) == planned
    # The same version again (a redelivery) adds nothing.
    assert plan(steps, e) == []


def test_steps_stop_just_past_the_alert_level_and_at_the_cap():
    steps = WeightSteps(LEVEL)
    e = aggregate(719, threat_level=ThreatLevel.CRITICAL)  # 719 x 1.0
    planned = plan(steps, e)
    # 1 (the aggregate) + 15 steps = 16 > 15: Slips alerts, and no further.
    assert len(planned) == 15
    assert slips_sum([slips_payload(e, "UNKNOWN_PORT")] + [p for _, p in planned]) > LEVEL
    light = aggregate(5000, threat_level=ThreatLevel.LOW, confidence=0.1, profile="10.0.0.6",
                      attacker=src_ip("10.0.0.6"))  # 0.02 a step
    assert len(plan(WeightSteps(LEVEL), light)) == MAX_STEPS


def test_first_report_then_update_at_the_close_adds_the_growth_only():
    steps = WeightSteps(LEVEL)
    first = aggregate(1, threat_level=ThreatLevel.HIGH)  # reported at the threshold: nothing to add
    assert plan(steps, first) == []
    grown = aggregate(10, threat_level=ThreatLevel.CRITICAL, confidence=1.0)  # same id, at the close
    assert grown.id == first.id
    planned = plan(steps, grown)
    # Slips has 0.8 from the first version; 9 steps of 1.0 make 9.8 <= 10 (what it stands for): 9 steps.
    assert [index for index, _ in planned] == list(range(1, 10))
    more = aggregate(12, threat_level=ThreatLevel.CRITICAL, confidence=1.0)
    assert [index for index, _ in plan(steps, more)] == [10, 11]


def test_no_steps_for_what_adds_no_alert_weight():
    steps = WeightSteps(LEVEL)
    assert plan(steps, aggregate(50, threat_level=ThreatLevel.INFO)) == []
    # About what others did to the profile (the attacker is the destination side).
    assert plan(steps, aggregate(50, attacker=dst_ip("93.184.216.34"), victim=None)) == []
    # The profile as the victim: reported, but it did not act.
    assert plan(steps, aggregate(50, victim=dst_ip("10.0.0.5"), profile="10.0.0.5")) == []
    # One occurrence however many flows (e.g. one per threshold crossed).
    assert plan(steps, aggregate(50, occurrences=1)) == []


def test_a_window_past_the_alert_level_gets_no_more_steps():
    steps = WeightSteps(LEVEL)
    one = aggregate(30, dst_port=4444, description="a")
    two = aggregate(30, dst_port=5555, description="b")
    assert one.id != two.id
    first = plan(steps, one)
    assert len(first) == 18  # 0.8 x (1 + 18) = 15.2: just past the level
    assert plan(steps, two) == []  # the window got what Slips needs to alert
    other_window = aggregate(30, dst_port=5555, description="b", timewindow=4)
    assert len(plan(steps, other_window)) == 18


def test_the_host_delivers_steps_after_their_aggregate_and_skips_them_when_slips_dropped_it():
    host = SlipsHost(config())
    first = aggregate(1)
    (item,) = host.prepare([first])
    host.outcome(item, DELIVERED)
    grown = aggregate(3)
    update, *rest = host.prepare([grown])
    assert update.update and [(s.step, s.update, s.aggregate_id) for s in rest] == [(1, False, item.payload["id"]),
                                                                                 (2, False, item.payload["id"])]
    host.outcome(update, UPDATED)
    for s in rest:
        assert host.wanted(s)
        host.outcome(s, DELIVERED)
    assert host.delivery.steps["UNKNOWN_PORT"] == 2 and host.delivery.delivered["UNKNOWN_PORT"] == 1
    # Slips's whitelist dropped the aggregate: its update is not stored, its steps are skipped.
    update, *rest = host.prepare([aggregate(5)])
    host.outcome(update, UPDATE_NOT_STORED)
    assert rest and not any(host.wanted(s) for s in rest)
    for s in rest:
        host.outcome(s, SKIPPED)
    assert host.delivery.steps_not_stored["UNKNOWN_PORT"] == len(rest)
    assert any(line.endswith("; weight steps: 2 stored in Slips, 2 not stored") for line in host.summary_lines())
