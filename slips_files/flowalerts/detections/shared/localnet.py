"""The DIFFERENT_LOCALNET evidence kind, shared by its two detections.

A private address outside the local network is reported from conn.log
(``detections/conn/different_localnet.py``) and from dns.log
(``detections/dns/different_localnet.py``). Both emit the same evidence type,
and an evidence kind may be declared once only (``flowalerts.core.evidence.KINDS``),
so the kind and its typed details live here and both files import them.
"""

from __future__ import annotations

from flowalerts.core.evidence import Details, EvidenceKind, ThreatLevel


class DifferentLocalnetDetails(Details):
    side: str  # "src": the source is the address outside; "dst": the destination is
    address: str  # the private address outside the local network
    local_network: str
    dport: int
    proto: str
    log: str  # "conn" or "dns": the log the detection read


DIFFERENT_LOCALNET = EvidenceKind(
    "DIFFERENT_LOCALNET",
    ThreatLevel.LOW,  # a private *destination* outside the network is reported HIGH
    confidence=1.0,
    details=DifferentLocalnetDetails,
    summary=(
        "a private address outside the learned local network (source: low, destination: high); "
        "learned DNS servers on port 53 exempt; one per address"
    ),
)
