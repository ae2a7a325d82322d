"""Pastebin downloads over HTTP (seed "Pastebin downloads"; spec 2.20, HTTP path).

A GET to a pastebin host whose response body exceeds ``threshold`` (700)
bytes: paste sites host second-stage payloads and configuration for malware
(INFO, 1.0; attacker the client). A pastebin host is one whose name contains
"pastebin" - the ``Host`` header, or, when the request has none or an IP, a
name the server's IP was resolved from (DNS facts).

No waiting: Zeek writes an http.log record when the response is complete, so
``response_body_len`` is the size of the download (the TLS path has to wait
for the conn record's byte count instead). It is also more exact than the
conn record's bytes, which add the headers and every other request of a
keep-alive connection.

One evidence per (profile, window, host) (issue 13): reported at the first
download, updated at window close with the number of downloads, the bytes
and every uid. INFO whatever the count.

Exceptions, and why: other methods than GET (an upload is not a download),
and responses up to the threshold (error pages and redirects are small).
"""

from __future__ import annotations

from flowalerts.core.config import SectionConfig
from flowalerts.core.evidence import escape_text
from flowalerts.core.messages import Message
from flowalerts.core.records import HttpRecord
from flowalerts.detections.shared.pastebin import PASTEBIN_DOWNLOAD, PastebinDetails
from flowalerts.engine.detection import Detection, Finding, Tally
from flowalerts.learners.dns import DnsFacts, DnsNames

MARK = "pastebin"


class PastebinHttpConfig(SectionConfig):
    threshold: int = 700  # bytes; a download strictly larger is reported

    slips_keys = {"pastebin_download_threshold": "threshold"}


class DownloadTally(Tally):
    total: int = 0  # bytes of every download
    largest: int = 0

    def add_download(self, size: int) -> None:
        self.total += size
        self.largest = max(self.largest, size)


class PastebinHttp(Detection[PastebinHttpConfig, DownloadTally]):
    """A download larger than the threshold from a pastebin host over HTTP."""

    id = "pastebin_http"
    channels = ("new_http",)
    evidence = (PASTEBIN_DOWNLOAD,)
    needs = (DnsFacts,)

    def handle(self, msg: Message[HttpRecord]) -> None:
        flow = msg.flow
        size = flow.response_body_len
        if size <= self.config.threshold or flow.method.upper() != "GET":
            return
        host = self._pastebin_host(flow)
        if host is None:
            return
        self.tally(msg, host, 1, update=lambda tally: tally.add_download(size))

    def _pastebin_host(self, flow: HttpRecord) -> str | None:
        host = flow.host.lower().rstrip(".")
        if MARK in host:
            return host[:253]
        for name in self.facts_of(DnsNames).domains_of_ip(flow.daddr):
            if MARK in name:
                return name
        return None

    def report_tally(self, profile: str, twid: int, key: str, tally: DownloadTally) -> Finding:
        many = f" in {tally.count} downloads" if tally.count > 1 else ""
        # The kind's growth leaves it INFO at confidence 1.0, weighing as each download.
        return Finding(
            victim=None,
            details=PastebinDetails(host=key, downloads=tally.count, total_bytes=tally.total,
                                    largest_bytes=tally.largest, threshold=self.config.threshold, path="http"),
            description=(
                f"download from pastebin over HTTP: {profile} received {tally.total / 1e6:.6g} MB from "
                f"{escape_text(key, limit=253)}{many}"
            ),
        )
