"""The PASTEBIN_DOWNLOAD evidence kind, shared by its two detections.

Downloads from pastebin are detected over HTTP (``detections/http/
pastebin_http.py``, http.log) and over TLS (``detections/tls/pastebin_tls.py``,
ssl.log joined with the conn record's byte count). Both emit the same
evidence type, and an evidence kind may be declared once only
(``flowalerts.core.evidence.KINDS``), so the kind and its typed details live here.
"""

from __future__ import annotations

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel


class PastebinDetails(Details):
    host: str  # the pastebin host (HTTP Host header, SNI, or a name the IP resolved from)
    downloads: int  # downloads larger than the threshold in this window
    total_bytes: int
    largest_bytes: int
    threshold: int
    path: str  # "http" or "tls"


PASTEBIN_DOWNLOAD = EvidenceKind(
    "PASTEBIN_DOWNLOAD",
    ThreatLevel.INFO,
    confidence=1.0,
    details=PastebinDetails,
    category="Malicious.Distribution",
    summary="a download > 700 bytes from a pastebin host (HTTP or TLS); one per host and window",
)
