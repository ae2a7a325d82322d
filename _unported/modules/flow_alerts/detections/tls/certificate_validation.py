"""Self-signed and invalid certificates from ssl.log ``validation_status``
(spec 2.15; 2.16 which the reference never implemented): "self signed ..."
gives SELF_SIGNED_CERTIFICATE, any other non-"ok" status (expired, not yet
valid, unable to get local issuer certificate, hostname mismatch ...) gives
INVALID_CERTIFICATE. The status is filled only when Zeek validates
certificates (zeek-scripts load protocols/ssl/validate-certs)."""

from __future__ import annotations

from flowalerts.evidence import EvidenceType
from flowalerts.messages import Message
from flowalerts.records import SslRecord
from flowalerts.modules.flow_alerts.detector import Detector, Result
from flowalerts.modules.flow_alerts.detectors.tls.validation import validation_evidence


class CertificateValidation(Detector):
    """A TLS server whose certificate failed Zeek's validation."""

    channels = ("new_ssl",)
    evidence_types = (EvidenceType.SELF_SIGNED_CERTIFICATE, EvidenceType.INVALID_CERTIFICATE)

    def handle(self, msg: Message[SslRecord]) -> Result:
        flow = msg.flow
        if not flow.validation_status:
            return None
        return validation_evidence(
            self.state,
            profile=msg.profile,
            twid=msg.twid,
            client=flow.saddr,
            server=flow.daddr,
            status=flow.validation_status,
            server_name=flow.server_name,
            timestamp=flow.starttime,
            uids=[flow.uid],
            source="ssl.log",
            src_port=flow.sport,
            dst_port=flow.dport,
        )
