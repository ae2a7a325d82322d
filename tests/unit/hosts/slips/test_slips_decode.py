"""The decoder of Slips's messages: everything real Slips published decodes
(and decodes to what Zeek wrote), placeholders are defaults, hostile values
are counted per channel and field and never raise."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowalerts.core.messages import TW_CLOSED, Message, TwClosed
from flowalerts.core.records import ConnRecord, DhcpRecord, DnsRecord, FilesRecord, SoftwareRecord, SslRecord
from flowalerts.hosts.slips.decode import (
    MAX_MESSAGE_BYTES,
    NOT_USED_CHANNELS,
    SLIPS_LOGS,
    SLIPS_RECORD_CHANNELS,
    SlipsDecoder,
    slips_time_to_epoch,
)
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from tests.slips_support import DATASETS, TRAFFIC, conn_flow, message, recorded_datasets, recorded_messages, require

DATASET_NAMES = recorded_datasets()


def decode_one(channel: str, data: str | bytes, **kw):
    decoder = SlipsDecoder(**kw)
    return decoder.decode(channel, data), decoder.stats


# --- what real Slips published -------------------------------------------------------------------


def test_recordings_are_there():
    require(TRAFFIC, "Slips's recorded traffic")
    assert len(DATASET_NAMES) >= 7


@pytest.mark.parametrize("dataset", DATASET_NAMES)
def test_every_message_slips_published_decodes(dataset):
    decoder = SlipsDecoder()
    produced: dict[str, int] = {}
    for channel, data in recorded_messages(dataset):
        item = decoder.decode(channel, data)
        if item is not None:
            produced[channel] = produced.get(channel, 0) + 1
            expected = TwClosed if channel == TW_CLOSED else Message
            assert isinstance(item, expected)
    stats = decoder.stats
    assert stats.total_rejected == 0, dict(stats.rejected)
    assert not stats.other_version
    # Every message is accounted for exactly once.
    for channel, count in stats.received.items():
        accounted = stats.decoded[channel] + stats.not_used[channel] + stats.no_profile[channel]
        assert accounted == count, channel
    # Record channels and tw_closed decode; the rest is known and not used.
    for channel in stats.received:
        if channel in SLIPS_RECORD_CHANNELS or channel == TW_CLOSED:
            assert stats.decoded[channel] + stats.no_profile[channel] == stats.received[channel]
        else:
            assert channel in NOT_USED_CHANNELS, f"unknown channel {channel}"
    assert produced == {k: v for k, v in stats.decoded.items() if v}
    assert set(stats.versions) == {"1.1.21"}


def test_only_a_weird_line_without_addresses_has_no_profile():
    # test9: one weird.log line has no addresses; Slips publishes it under "profile_".
    decoder = SlipsDecoder()
    for name in DATASET_NAMES:
        for channel, data in recorded_messages(name):
            decoder.decode(channel, data)
    assert dict(decoder.stats.no_profile) == {"new_weird": 1}  # (its tw_closed was not recorded)


def _zeek_records(dataset: str, record_type):
    folder = require(DATASETS / dataset, "the shared datasets")
    reader = FolderReader(str(folder), InputWarnings(emit=lambda text: None))
    # A uid can have several dns.log lines: key by uid and time.
    return {(r.uid, round(r.starttime, 6)): r for r in reader if isinstance(r, record_type)}


FIDELITY = {
    "new_flow": (ConnRecord, ("saddr", "daddr", "sport", "dport", "proto", "sbytes", "dbytes", "spkts", "dpkts", "state", "history")),
    "new_dns": (DnsRecord, ("saddr", "daddr", "sport", "dport", "query", "qtype_name", "rcode_name", "answers", "TTLs")),
    "new_ssl": (SslRecord, ("saddr", "daddr", "dport", "server_name", "subject", "validation_status", "established", "ja3", "ja3s")),
}


@pytest.mark.parametrize("channel", sorted(FIDELITY))
@pytest.mark.parametrize("dataset", ["test9-mixed-zeek-dir", "test10-mixed-zeek-dir"])
def test_decoded_records_equal_what_zeek_wrote(dataset, channel):
    """Slips's messages decode to the same values our Zeek reader reads from the
    dataset's logs (JSON and TSV datasets, Slips's string and placeholder forms)."""
    record_type, fields = FIDELITY[channel]
    zeek = _zeek_records(dataset, record_type)
    decoder = SlipsDecoder()
    compared = 0
    for name, data in recorded_messages(dataset):
        if name != channel:
            continue
        msg = decoder.decode(name, data)
        original = zeek[(msg.flow.uid, round(msg.flow.starttime, 6))]
        for field in fields:
            assert getattr(msg.flow, field) == getattr(original, field), (msg.flow.uid, field)
        compared += 1
    assert compared > 0


# --- placeholders and Slips's loose forms ---------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "flow", "expected"),
    [
        # "" for empty lists, unknown counts and absent ports.
        ("new_ssl", {"cert_chain_fuids": "", "client_cert_chain_fuids": "", "is_DoH": "", "sport": ""},
         {"cert_chain_fuids": [], "client_cert_chain_fuids": [], "is_DoH": False, "sport": 0}),
        ("new_dns", {"TTLs": ""}, {"TTLs": []}),
        ("new_dns", {"TTLs": "15.000000,105.000000"}, {"TTLs": [15.0, 105.0]}),
        ("new_dns", {"TTLs": [6400.0, "6400"]}, {"TTLs": [6400.0, 6400.0]}),
        ("new_dns", {"answers": [""]}, {"answers": []}),
        ("new_dns", {"answers": "a,b"}, {"answers": ["a,b"]}),  # a bare answer is one answer
        ("new_http", {"resp_mime_types": "", "status_code": "", "version": ""}, {"resp_mime_types": [], "status_code": 0, "version": ""}),
        ("new_downloaded_file", {"size": "", "analyzers": "MD5,X509,SHA1"}, {"size": 0, "analyzers": ["MD5", "X509", "SHA1"]}),
        ("new_notice", {"sport": "", "dport": "", "scanned_port": "23"}, {"sport": 0, "dport": 23, "scanned_port": 23}),
        # numbers and booleans as strings (Slips's TSV path)
        ("new_ssl", {"sport": "52591", "dport": "443", "established": "T", "resumed": "F"},
         {"sport": 52591, "dport": 443, "established": True, "resumed": False}),
        ("new_flow", {"starttime": "1601998366.786397"}, {"starttime": 1601998366.786397}),
        ("new_flow", {"starttime": "2020-10-06T15:32:46.786397Z"}, {"starttime": 1601998366.786397}),
        ("new_flow", {"starttime": "2020/10/06 15:32:46.786397"}, {"starttime": 1601998366.786397}),
        ("new_flow", {"starttime": "2020/10/06 15:32:46.786397+0000"}, {"starttime": 1601998366.786397}),
        # absent fields take their defaults; unknown fields are ignored
        ("new_flow", {"dur": None, "appproto": None, "aid": "x", "interpreted_state": ""}, {"dur": 0.0, "appproto": ""}),
        ("new_flow", {"sbytes": 50.0}, {"sbytes": 50}),
    ],
)
def test_placeholders_and_loose_forms(channel, flow, expected):
    base = {"starttime": 1_600_000_000.0, "uid": "X", "saddr": "10.0.0.5", "daddr": "10.0.0.6"}
    item, stats = decode_one(channel, message({**base, **flow}))
    assert stats.total_rejected == 0, dict(stats.rejected)
    for field, value in expected.items():
        got = getattr(item.flow, field)
        assert got == pytest.approx(value) if isinstance(value, float) else got == value, field


def test_renamed_fields_and_profile_less_channels():
    item, _ = decode_one("new_dhcp", message({"starttime": 1.0, "uids": ["C1"], "saddr": "10.0.0.5", "daddr": "10.0.0.1",
                                               "client_addr": "10.0.0.5", "server_addr": "10.0.0.1", "smac": "aa:bb:cc:dd:ee:ff"}))
    assert isinstance(item.flow, DhcpRecord) and item.flow.mac == "aa:bb:cc:dd:ee:ff"
    # new_software has no profileid: the host is the profile.
    item, _ = decode_one("new_software", message({"starttime": 1.0, "saddr": "192.168.1.247", "software": "SSH::CLIENT",
                                                  "version_major": 8, "version_minor": "", "sport": ""}, profile=None))
    assert isinstance(item.flow, SoftwareRecord)
    assert (item.profile, item.flow.version_major, item.flow.version_minor) == ("192.168.1.247", 8, None)
    item, _ = decode_one("new_downloaded_file", message({"starttime": 1.0, "uid": "F1", "tx_hosts": ["1.2.3.4"], "rx_hosts": ["10.0.0.5"]}))
    assert isinstance(item.flow, FilesRecord) and (item.flow.saddr, item.flow.daddr) == ("1.2.3.4", "10.0.0.5")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"text": "profile_10.0.0.5_timewindow3", "version": "1.1.21"}', TwClosed(profile="10.0.0.5", twid=3)),
        ('{"text": "profile_fe80::1_timewindow0"}', TwClosed(profile="fe80::1", twid=0)),
        (json.dumps({"text": json.dumps("profile_10.0.0.5_timewindow2")}), TwClosed(profile="10.0.0.5", twid=2)),
    ],
)
def test_tw_closed_forms(data, expected):
    item, stats = decode_one(TW_CLOSED, data)
    assert item == expected and stats.total_rejected == 0


def test_the_window_of_slips_profile_less_records_closes_without_an_error():
    # Seen in a real test10 run: Slips closes the window of its "profile_" (records without saddr).
    item, stats = decode_one(TW_CLOSED, '{"text": "profile__timewindow1", "version": "1.1.21"}')
    assert item is None and stats.total_rejected == 0 and dict(stats.no_profile) == {TW_CLOSED: 1}


# --- hostile messages: counted per channel and field, never raised ---------------------------------


GOOD = conn_flow()


@pytest.mark.parametrize(
    ("channel", "data", "field"),
    [
        ("new_flow", "[" * 100_000, "message"),  # 100 KB of nesting
        ("new_flow", '{"flow": ' * 5000 + "1" + "}" * 5000, "message"),
        ("new_flow", " " * (MAX_MESSAGE_BYTES + 1), "message"),
        ("new_flow", "not json", "message"),
        ("new_flow", b"\xff\xfe{}", "message"),
        ("new_flow", "[1, 2]", "message"),
        ("new_flow", json.dumps({"profileid": "profile_10.0.0.5", "twid": "timewindow1", "flow": [1]}), "flow"),
        ("new_flow", message(GOOD, twid="timewindow-1"), "twid"),
        ("new_flow", message(GOOD, twid="timewindow"), "twid"),
        ("new_flow", message(GOOD, twid="timewindow1e3"), "twid"),
        ("new_flow", message(GOOD, twid="timewindow99999999999999999999"), "twid"),
        ("new_flow", message(GOOD, twid=None), "twid"),
        ("new_flow", message(GOOD, profile="x"), "profileid"),
        ("new_flow", message(GOOD, profile="10.0.0.256"), "profileid"),
        ("new_flow", json.dumps({"profileid": 5, "twid": "timewindow1", "flow": GOOD}), "profileid"),
        ("new_flow", message({**GOOD, "sbytes": 1e30}), "sbytes"),
        ("new_flow", message({**GOOD, "sbytes": 10**30}), "sbytes"),
        ("new_flow", message({**GOOD, "sbytes": -1}), "sbytes"),
        ("new_flow", message({**GOOD, "dbytes": "-5"}), "dbytes"),
        ("new_flow", message({**GOOD, "spkts": 1.5}), "spkts"),
        ("new_flow", message({**GOOD, "spkts": True}), "spkts"),
        ("new_flow", message({**GOOD, "dport": 70000}), "dport"),
        ("new_flow", message({**GOOD, "sport": "http"}), "sport"),
        ("new_flow", message({**GOOD, "dur": -3}), "dur"),
        ("new_flow", message({**GOOD, "dur": "1e400"}), "dur"),
        ("new_flow", message({**GOOD, "starttime": "yesterday"}), "starttime"),
        ("new_flow", message({**GOOD, "starttime": 1e20}), "starttime"),
        ("new_flow", message({**GOOD, "starttime": -1}), "starttime"),
        ("new_flow", message({**GOOD, "starttime": ""}), "starttime"),
        ("new_flow", message({**GOOD, "saddr": "not-an-ip"}), "saddr"),
        ("new_flow", message({**GOOD, "daddr": ""}), "daddr"),
        ("new_flow", message({**GOOD, "proto": {"a": 1}}), "proto"),
        ("new_flow", message(GOOD, version=5), "version"),
        ("new_dns", message({"starttime": 1.0, "saddr": "10.0.0.5", "daddr": "10.0.0.1", "TTLs": "1,x"}), "TTLs"),
        ("new_dns", message({"starttime": 1.0, "saddr": "10.0.0.5", "daddr": "10.0.0.1", "answers": [["nested"]]}), "answers"),
        ("new_ssl", message({"starttime": 1.0, "saddr": "10.0.0.5", "daddr": "10.0.0.1", "established": "maybe"}), "established"),
        ("new_software", message({"starttime": 1.0, "software": "x"}, profile=None), "saddr"),
        ("new_weird", message({"starttime": 1.0, "name": "x"}, profile=None), "profileid"),
        (TW_CLOSED, '{"text": "garbage"}', "text"),
        (TW_CLOSED, '{"text": "profile_x_timewindow1"}', "text"),
        (TW_CLOSED, '{"text": "profile_10.0.0.5_timewindow-1"}', "text"),
        (TW_CLOSED, '{"text": "profile__timewindowx"}', "text"),
        (TW_CLOSED, '{"text": 5}', "text"),
    ],
)
def test_hostile_messages_are_counted_per_channel_and_field(channel, data, field):
    lines: list[str] = []
    decoder = SlipsDecoder(warn=lines.append)
    assert decoder.decode(channel, data) is None
    assert dict(decoder.stats.rejected) == {(channel, field): 1}
    assert len(lines) == 1 and f"channel {channel}, field {field}" in lines[0]
    assert "\n" not in lines[0] and len(lines[0]) < 400
    # The next good message still decodes.
    assert isinstance(decoder.decode("new_flow", message(GOOD)), Message)


def test_first_example_is_reported_once_and_the_rest_counted():
    lines: list[str] = []
    decoder = SlipsDecoder(warn=lines.append)
    for n in range(5):
        decoder.decode("new_flow", message({**GOOD, "sbytes": -n - 1}))
    assert decoder.stats.rejected[("new_flow", "sbytes")] == 5
    assert len(lines) == 1 and "-1" in lines[0]


def test_other_versions_are_skipped_when_a_version_is_served():
    decoder = SlipsDecoder(version="1.1.21")
    assert decoder.decode("new_flow", message(GOOD, version="1.1.20")) is None
    assert decoder.decode("new_flow", message(GOOD)) is not None
    assert dict(decoder.stats.other_version) == {"new_flow": 1}
    assert decoder.stats.total_rejected == 0


def test_unused_channels_are_not_errors():
    decoder = SlipsDecoder(channels={"new_flow"})
    assert decoder.decode("new_dns", message({"starttime": 1.0, "saddr": "10.0.0.5", "daddr": "10.0.0.1"})) is None
    assert decoder.decode("some_future_channel", '{"x": 1}') is None
    assert dict(decoder.stats.not_used) == {"new_dns": 1, "some_future_channel": 1}


def test_x509_is_the_only_log_slips_does_not_publish():
    assert "x509" not in SLIPS_LOGS
    assert {"conn", "dns", "ssl", "http", "ssh", "smtp", "notice", "files", "software", "tunnel", "dhcp", "arp", "weird", "login"} <= SLIPS_LOGS


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, 5.0), ("5.5", 5.5), ("1970-01-01T00:00:10+00:00", 10.0), ("1970-01-01T00:00:10Z", 10.0), ("x", None), (True, None), ("9" * 70, None)],
)
def test_slips_time_forms(value, expected):
    assert slips_time_to_epoch(value) == expected


# --- fuzz: whatever the JSON, the decoder answers and accounts -------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_fields = st.sampled_from(["starttime", "uid", "saddr", "daddr", "sport", "dport", "proto", "dur", "sbytes", "answers",
                           "TTLs", "established", "size", "version_major", "tx_hosts", "query", "mac"])


@settings(max_examples=300, deadline=None)
@given(
    channel=st.sampled_from([*sorted(SLIPS_RECORD_CHANNELS), TW_CLOSED, "new_url"]),
    flow=st.dictionaries(_fields, _json_values, max_size=8),
    envelope=st.dictionaries(st.sampled_from(["profileid", "twid", "text", "version"]), _json_values, max_size=4),
)
def test_fuzz_never_raises_and_counts_every_message(channel, flow, envelope):
    decoder = SlipsDecoder()
    data = json.dumps({"flow": {"starttime": 1.0, "saddr": "10.0.0.5", "daddr": "10.0.0.6", **flow}, **envelope})
    decoder.decode(channel, data)
    s = decoder.stats
    assert s.decoded[channel] + s.not_used[channel] + s.no_profile[channel] + s.rejected_by_channel()[channel] == 1
