"""The adapter both Slips hosts drive: Slips's windows and tw_closed, the
late-record rule, flow time, updates, failures, Slips's configuration."""

from __future__ import annotations

import pytest
import yaml

from flowalerts.catalog import load_components
from flowalerts.core.config import ConfigError
from flowalerts.core.messages import TW_CLOSED
from flowalerts.detections.conn.reconnection_attempts import (
    ReconnectionAttempts,
    ReconnectionDetails,
)
from flowalerts.hosts.slips.host import BARRIER_CHANNEL, DELIVERED, INPUT_DONE_POLL, UPDATED, SlipsHost
from flowalerts.hosts.slips.settings import ENV_CONFIG, config_from_slips
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.ports import PortRegistry
from tests.harness import config
from tests.slips_support import SLIPS, conn_flow, dns_flow, message, require, tw_closed

CLIENT, SERVER = "10.0.0.5", "93.184.216.34"
T = 1_600_000_000.0
# Every detection runs in the Slips hosts. The inputs below are what the tests
# mean and nothing else: the server was resolved first (no connection without
# DNS) and 8080/tcp is a known service (no unknown port).
DETAILS_5 = ReconnectionDetails(attempts=5, threshold=5, dport=8080, telnet=False, states=["S0"])


def knowledge() -> Knowledge:
    known = Knowledge.empty()
    known.ports = PortRegistry.load_default()
    return known


def host(**kw) -> SlipsHost:
    return SlipsHost(config(), knowledge(), **kw)


def resolved(ts: float = T) -> tuple[str, str]:
    return "new_dns", message(dns_flow(starttime=ts, answers=[SERVER]), profile=CLIENT)


def attempt(n: int, twid: int = 1, ts: float | None = None) -> str:
    return message(conn_flow(uid=f"C{n}", starttime=ts if ts is not None else T + n, saddr=CLIENT, daddr=SERVER, dport=8080),
                   profile=CLIENT, twid=f"timewindow{twid}")


def established(ts: float, twid: int) -> tuple[str, str]:
    """A short, successful connection to the resolved server: moves flow time, reports nothing."""
    flow = conn_flow(uid=f"E{ts}", starttime=ts, saddr=CLIENT, daddr=SERVER, dport=8080, state="SF",
                     history="ShADadFf", spkts=6, dpkts=6, sbytes=500, dbytes=900)
    return "new_flow", message(flow, profile=CLIENT, twid=f"timewindow{twid}")


def feed(h: SlipsHost, *items: tuple[str, str]) -> list:
    out = []
    for channel, data in items:
        out.extend(h.on_message(channel, data))
    return out


def test_channels_are_what_the_module_reads_plus_tw_closed():
    h = host()
    assert "new_flow" in h.channels and h.channels[-1] == TW_CLOSED
    assert "new_x509" not in h.channels and "new_url" not in h.channels


def test_every_detection_runs_and_windows_close_after_the_largest_delay():
    h = host()
    assert len(h.driver.detections) == len(load_components()[0]) - len(h.skipped_detections())
    assert h.driver.close_delay == 300.0


def test_evidence_at_threshold_then_one_update_when_the_delayed_close_of_slips_tw_closed_happens():
    h = host()
    found = feed(h, resolved(), *[("new_flow", attempt(n)) for n in range(1, 6)])
    assert [e.details for e in found] == [DETAILS_5]
    (first,) = h.prepare(found)
    assert not first.update
    h.outcome(first, DELIVERED)
    assert feed(h, ("new_flow", attempt(6))) == []
    # Slips closes a window once its flow time is a window width past the
    # window's last record: here, with the record at T + 3606 of window 2.
    assert feed(h, established(T + 3606, twid=2)) == []
    # tw_closed: window 1 takes no more records (late rule) and the driver
    # settles it close_delay (300 s) of flow time later. The watermark (newest
    # start - allowed lateness 3600 s) was T + 6 then, so the close is due at T + 306.
    assert feed(h, (TW_CLOSED, tw_closed(CLIENT, 1))) == []
    assert h.windows_closed == 1
    assert feed(h, established(T + 3905, twid=2)) == []
    closed = feed(h, established(T + 3906, twid=2))
    assert [e.details for e in closed] == [ReconnectionDetails(attempts=6, threshold=5, dport=8080, telnet=False, states=["S0"])]
    (update,) = h.prepare(closed)
    assert update.update and update.payload["id"] == first.payload["id"]
    assert len(update.payload["uid"]) == 6
    h.outcome(update, UPDATED)
    assert h.delivery.delivered["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1
    assert h.delivery.updated["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1
    assert h.driver.processed["tw_closed"] == 1
    assert h.finish() == []


def test_records_of_a_window_slips_closed_are_late_and_never_reopen_it():
    h = host()
    assert feed(h, resolved(), (TW_CLOSED, tw_closed(CLIENT, 1))) == []
    late = feed(h, *[("new_flow", attempt(n)) for n in range(1, 8)])
    assert late == []
    assert h.driver.health.late_records["new_flow"] == 7
    # The next window of the same profile is not late.
    assert [e.details for e in feed(h, *[("new_flow", attempt(n, twid=2)) for n in range(1, 6)])] == [DETAILS_5]
    assert any("late records" in line for line in h.summary_lines())
    # Late records were never counted anywhere: nothing grew, nothing to settle.
    assert h.finish() == []


def test_a_record_after_tw_closed_is_late_even_while_the_close_waits():
    h = host()
    feed(h, resolved(), *[("new_flow", attempt(n)) for n in range(1, 6)])
    assert feed(h, (TW_CLOSED, tw_closed(CLIENT, 1))) == []
    assert feed(h, ("new_flow", attempt(6))) == []
    assert h.driver.health.late_records["new_flow"] == 1
    assert h.finish() == []  # the tally of window 1 still has 5: nothing to update


def test_a_second_tw_closed_for_a_window_is_ignored():
    h = host()
    feed(h, resolved(), *[("new_flow", attempt(n)) for n in range(1, 7)])
    assert feed(h, (TW_CLOSED, tw_closed(CLIENT, 1))) == []
    assert feed(h, (TW_CLOSED, tw_closed(CLIENT, 1))) == []
    assert (h.windows_closed, h.duplicate_closes) == (1, 1)
    assert [e.details.attempts for e in h.finish()] == [6]
    assert h.driver.processed["tw_closed"] == 1


def test_finish_settles_windows_slips_never_closed():
    h = host()
    feed(h, resolved(), *[("new_flow", attempt(n)) for n in range(1, 8)])
    settled = h.finish()
    assert [e.details for e in settled] == [ReconnectionDetails(attempts=7, threshold=5, dport=8080, telnet=False, states=["S0"])]
    assert h.finish() == []


def test_our_barrier_after_slips_input_is_complete_settles_everything_at_once():
    h = host()
    feed(h, resolved(), *[("new_flow", attempt(n)) for n in range(1, 8)])
    assert h.input_complete(b"yes", None, None) == h.input_complete(None, None, None) == ""
    h.barrier_sent(h.input_complete(b"no", None, None))
    assert h.end_reason == "Slips set will_slips_have_more_flows to 'no'"
    # Someone else's message on the barrier channel changes nothing.
    assert feed(h, (BARRIER_CHANNEL, "not-our-token")) == [] and not h.finished
    settled = feed(h, (BARRIER_CHANNEL, h.barrier_token))
    assert [e.details.attempts for e in settled] == [7]
    assert h.finished and h.input_ended
    # Slips's tw_closed at its shutdown finds the window settled; a record now is late.
    assert feed(h, (TW_CLOSED, tw_closed(CLIENT, 1)), ("new_flow", attempt(8))) == []
    assert h.after_end["new_flow"] == 1 and h.driver.health.late_records["new_flow"] == 1
    assert h.finish() == [] and feed(h, (BARRIER_CHANNEL, h.barrier_token)) == []
    assert h.decoder.stats.received[BARRIER_CHANNEL] == 0
    assert ("Slips's input was complete before it stopped (Slips set will_slips_have_more_flows to 'no'): "
            "every window settled then") in h.summary_lines()
    assert h.input_complete(b"no", None, None) == ""  # finished: nothing more to settle


def test_the_input_is_complete_once_slips_processed_every_flow_it_counted_and_all_is_quiet():
    now = [100.0]
    h = host(monotonic=lambda: now[0])
    feed(h, resolved(), ("new_flow", attempt(1)))
    # Slips counts total_flows for finite input only (0: a growing folder; absent: an interface).
    assert [h.input_complete("yes", total, 50) for total in (None, 0, "0", b"x")] == ["", "", "", ""]
    assert h.input_complete("yes", b"51", b"50") == ""  # 98 %
    assert h.input_complete(b"yes", b"50", b"50") == ""  # 100 %: the quiet starts now
    now[0] += 2.9
    assert h.input_complete("yes", "50", "50") == ""
    now[0] += 0.1
    feed(h, ("new_flow", attempt(2)))  # a message: the quiet starts again
    assert h.input_complete("yes", "50", "52") == ""  # progress moved: it starts again
    now[0] += 2.9
    assert h.input_complete("yes", "50", "52") == ""
    now[0] += 0.1
    assert h.input_complete("yes", 50, 52) == ("Slips's profiler processed 52 flows of the 50 its input counted, "
                                               "and nothing came for 3 s")


def test_without_the_resolution_every_detection_that_applies_reports():
    h = host()
    found = feed(h, *[("new_flow", attempt(n)) for n in range(1, 6)])
    assert [e.details for e in found] == [DETAILS_5]
    # Connection without DNS decides after a grace for a late DNS answer (a
    # timer); at the end the timers fire (first report) and the window closes
    # (the update of the same id with all 5 connections).
    settled = h.finish()
    assert [(e.evidence_type, e.count) for e in settled] == [("CONNECTION_WITHOUT_DNS", 1), ("CONNECTION_WITHOUT_DNS", 5)]
    assert [item.update for item in h.prepare(settled)] == [False, True]


def test_flow_time_follows_record_start_times_as_in_the_standalone_host():
    h = host()
    feed(h, ("new_flow", message(conn_flow(starttime=T, dur=10_000.0))))
    # newest start time T minus the allowed lateness (3600 s), in whole seconds;
    # a long connection's end does not pull flow time ahead
    assert h.driver.watermark == T - 3600
    feed(h, ("new_flow", message(conn_flow(uid="C2", starttime=T + 10.5))))
    assert h.driver.watermark == T + 10 - 3600


def test_detection_failures_are_isolated_reported_once_and_counted(monkeypatch):
    def broken(self, msg):
        raise RuntimeError("boom")

    monkeypatch.setattr(ReconnectionAttempts, "handle", broken)
    h = host()
    feed(h, *[("new_flow", attempt(n)) for n in range(1, 4)])
    (line,) = h.new_failures()
    assert "reconnection_attempts:handle" in line and "boom" in line
    assert h.new_failures() == []
    assert h.failures == 3


def test_evidence_without_a_slips_type_is_counted_with_one_note(monkeypatch):
    import flowalerts.hosts.slips.host as host_module

    notes: list[str] = []
    h = host(info=notes.append)
    found = feed(h, *[("new_flow", attempt(n)) for n in range(1, 6)])
    # As for a kind declared slips=NOT_IN_SLIPS (none of the ported ones is).
    monkeypatch.setattr(host_module, "slips_type", lambda name: None)
    assert h.prepare(found + found) == []
    assert h.delivery.not_in_slips["MULTIPLE_RECONNECTION_ATTEMPTS"] == 2
    assert len([n for n in notes if "no Slips type" in n]) == 1


def test_hostile_messages_never_reach_the_detections():
    h = host()
    feed(
        h,
        ("new_flow", "[" * 100_000),
        ("new_flow", message(conn_flow(), twid="timewindow-1")),
        ("new_flow", message(conn_flow(), profile="x")),
        ("new_flow", message(conn_flow(sbytes=1e30))),
        ("new_flow", message(conn_flow(dbytes=-1))),
    )
    assert h.decoder.stats.total_rejected == 5
    assert h.driver.processed["new_flow"] == 0


# --- Slips's configuration ------------------------------------------------------------------------


def test_config_from_slips_own_slips_yaml():
    path = require(SLIPS / "slips-1.1.21" / "config" / "slips.yaml", "Slips's slips.yaml")
    cfg, notes = config_from_slips(yaml.safe_load(path.read_text()))
    assert cfg.parameters.width == 3600.0
    assert cfg.detection.evidence_detection_threshold == 0.25
    assert cfg.section("long_connection", type(cfg.flow_alerts["long_connection"])).threshold == 1500.0
    # Every key of Slips's flow_alerts section has a detection in this version.
    assert notes == []
    assert cfg.flow_alerts["data_upload"].window_threshold_mb == 500  # ours defaults to 100
    assert cfg.flow_alerts["high_entropy_txt"].threshold == 5
    assert cfg.flow_alerts["ssh_successful"].threshold == 4290
    assert cfg.flow_alerts["pastebin_http"].threshold == cfg.flow_alerts["pastebin_tls"].threshold == 700


def test_slips_keys_of_detections_this_version_lacks_are_named_not_errors():
    cfg, notes = config_from_slips({"flow_alerts": {"long_connection_threshold": 60, "no_such_threshold": 3}})
    assert notes == ["Slips's flow_alerts keys without a detection in this version (ignored): no_such_threshold"]
    assert cfg.flow_alerts["long_connection"].threshold == 60


def test_config_from_slips_values():
    cfg, _ = config_from_slips(
        {
            "parameters": {"time_window_width": "only_one_tw", "analysis_direction": "all", "pcapfilter": "x"},
            "detection": {"evidence_detection_threshold": 0.01},
            "DisabledAlerts": {"disabled_detections": ["LONG_CONNECTION"]},
            "flow_alerts": {"long_connection_threshold": 60, "reconnection_attempts": {"threshold": 7}},
            "modules": {"disable": ["template"]},
        }
    )
    assert cfg.parameters.time_window_width == "only_one_tw"
    assert cfg.parameters.analysis_direction == "all"
    assert cfg.detection.evidence_detection_threshold == 0.01
    assert cfg.DisabledAlerts.disabled_detections == ["LONG_CONNECTION"]
    assert cfg.flow_alerts["long_connection"].threshold == 60
    assert cfg.flow_alerts["reconnection_attempts"].threshold == 7
    assert config_from_slips(None)[0].parameters.width == 3600.0


def test_config_from_slips_wrong_type_and_own_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="long_connection"):
        config_from_slips({"flow_alerts": {"long_connection_threshold": "long"}})
    own = tmp_path / "flowalerts.yaml"
    own.write_text("flow_alerts:\n  long_connection:\n    threshold: 99\n")
    monkeypatch.setenv(ENV_CONFIG, str(own))
    cfg, notes = config_from_slips({"flow_alerts": {"long_connection_threshold": 60}})
    assert cfg.flow_alerts["long_connection"].threshold == 99 and str(own) in notes[0]
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="no such file"):
        config_from_slips({})


def test_both_hosts_poll_slips_progress_through_the_host_at_most_every_half_second_and_send_the_barrier_once():
    now = [100.0]
    h = host(monotonic=lambda: now[0])
    reads: list[float] = []
    published: list[str] = []
    figures = [(b"yes", None, None)]

    def read():
        reads.append(now[0])
        return figures[0]

    h.poll_input_end(read, published.append)
    h.poll_input_end(read, published.append)  # within INPUT_DONE_POLL: not read again
    assert reads == [100.0] and published == []
    now[0] += INPUT_DONE_POLL
    figures[0] = (b"no", None, None)
    h.poll_input_end(read, published.append)
    assert published == [h.barrier_token] and h.end_reason == "Slips set will_slips_have_more_flows to 'no'"
    now[0] += 10
    h.poll_input_end(read, published.append)  # sent: not read again
    assert len(reads) == 2 and published == [h.barrier_token]
    h.barrier_lost()  # the connection it went out on was lost
    h.poll_input_end(read, published.append)
    assert len(reads) == 3 and published == [h.barrier_token] * 2
    h.give_up_input_end()
    now[0] += 10
    h.poll_input_end(read, published.append)
    assert len(reads) == 3
