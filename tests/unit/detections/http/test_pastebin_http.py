"""PASTEBIN_DOWNLOAD over HTTP (seed "Pastebin downloads"; spec 2.20, HTTP path; issue 13)."""

from __future__ import annotations

import pytest

from flowalerts.detections.http.pastebin_http import PastebinHttp
from flowalerts.detections.shared.pastebin import PastebinDetails
from tests.harness import CLIENT, SERVER, T0, Harness, config, dns, http, in_zeek_order, summary


def run(*records, **kw):
    return [summary(e) for e in Harness(PastebinHttp, **kw).feed(*records).evidence()]


def ev(host="pastebin.com", n=1, total=20000, largest=20000):
    details = {"kind": "PastebinDetails", "host": host, "downloads": n, "total_bytes": total,
               "largest_bytes": largest, "threshold": 700, "path": "http"}
    return ("PASTEBIN_DOWNLOAD", CLIENT, 1, CLIENT, None, "info", 1.0, n, details)


@pytest.mark.parametrize(
    ("method", "host", "size", "result"),
    [
        ("GET", "pastebin.com", 20000, [ev()]),
        ("GET", "PASTEBIN.com", 20000, [ev()]),
        ("GET", "pastebin.com", 701, [ev(total=701, largest=701)]),
        ("GET", "pastebin.com", 700, []),  # "exceeds 700 bytes": strictly more
        ("POST", "pastebin.com", 20000, []),
        ("GET", "example.com", 20000, []),
    ],
)
def test_downloads(method, host, size, result):
    assert run(http(method=method, host=host, response_body_len=size)) == result


def test_host_from_dns_when_the_request_has_no_host_header():
    records = [dns(query="pastebin.com", answers=[SERVER]), http(starttime=T0 + 1, host="", response_body_len=5000)]
    assert run(*records) == [ev(total=5000, largest=5000)]
    assert run(http(host="", response_body_len=5000)) == []


def test_threshold_from_config_and_slips_key():
    for cfg in (config(flow_alerts={"pastebin_http": {"threshold": 10000}}),
                config(flow_alerts={"pastebin_download_threshold": 10000})):
        assert run(http(host="pastebin.com", response_body_len=10000), cfg=cfg) == []
        assert len(run(http(host="pastebin.com", response_body_len=10001), cfg=cfg)) == 1


def test_one_evidence_per_host_and_window():
    records = [http(uid="A", host="pastebin.com", response_body_len=5000),
               http(uid="A", starttime=T0 + 1, host="pastebin.com", response_body_len=3000),  # keep-alive
               http(uid="B", starttime=T0 + 2, host="pastebin.com", response_body_len=1000),
               http(uid="C", starttime=T0 + 3600, host="pastebin.com", response_body_len=900)]
    evidence = Harness(PastebinHttp).feed(*records).evidence()
    assert [(e.timewindow, e.count, e.uids, e.details) for e in evidence] == [
        (1, 3, ["A", "B"], PastebinDetails(host="pastebin.com", downloads=3, total_bytes=9000, largest_bytes=5000,
                                           threshold=700, path="http")),
        (2, 1, ["C"], PastebinDetails(host="pastebin.com", downloads=1, total_bytes=900, largest_bytes=900,
                                      threshold=700, path="http")),
    ]


def test_any_order_gives_the_same_evidence():
    records = [http(uid=f"C{i}", starttime=T0 + i, host="pastebin.com", response_body_len=1000 * (i + 1))
               for i in range(4)]
    assert run(*records) == run(*reversed(records)) == run(*in_zeek_order(records))
