"""TLS learner (priority 10): facts other detectors read from ssl, x509 and
files records.

* the SNI of each server IP (``facts.record_sni``);
* DNS-over-HTTPS servers (``facts.mark_doh_server``): ssl.log ``is_DoH`` is
  true, or the SNI is one of ``DOH_HOSTNAMES``; connection-without-DNS skips
  them (spec 2.39);
* which ssl connection each certificate belongs to: the fuids and
  fingerprints in ``cert_chain_fuids`` / ``cert_chain_fps`` are joined to
  (client, server, uid, SNI), so x509.log and files.log records, logged a
  little later in flow time, can be tied to the connection;
* each x509 fuid's SHA1 fingerprint and SAN DNS names.
"""

from __future__ import annotations

from typing import Any

from flowalerts.core.messages import Message
from flowalerts.core.records import FilesRecord, SslRecord, X509Record
from flowalerts.modules.flow_alerts.detector import Detector, Result
from flowalerts.modules.flow_alerts.detectors.tls.names import (
    CERT_CONN_TABLE,
    CERT_JOIN_TTL,
    MAX_SAN,
    X509_FP_TABLE,
    X509_SAN_TABLE,
    CertConn,
    normalise_host,
)

# Well-known public DoH resolvers, by host name (exact match, lower case).
DOH_HOSTNAMES = frozenset(
    {
        "dns.google",
        "dns.google.com",
        "cloudflare-dns.com",
        "mozilla.cloudflare-dns.com",
        "chrome.cloudflare-dns.com",
        "one.one.one.one",
        "1dot1dot1dot1.cloudflare-dns.com",
        "dns.quad9.net",
        "dns9.quad9.net",
        "dns10.quad9.net",
        "dns11.quad9.net",
        "doh.opendns.com",
        "dns.nextdns.io",
        "doh.cleanbrowsing.org",
        "dns.adguard.com",
        "dns.adguard-dns.com",
        "doh.mullvad.net",
    }
)

MAX_CHAIN = 10


def is_doh(flow: SslRecord) -> bool:
    return bool(flow.is_DoH) or normalise_host(flow.server_name) in DOH_HOSTNAMES


class TlsLearner(Detector):
    """Learns SNIs, DoH servers and certificate-to-connection joins (no evidence)."""

    channels = ("new_ssl", "new_x509", "new_downloaded_file")
    evidence_types = ()
    priority = 10

    def handle(self, msg: Message[Any]) -> Result:
        flow = msg.flow
        if isinstance(flow, SslRecord):
            self._ssl(flow)
        elif isinstance(flow, X509Record):
            self._x509(flow)
        elif isinstance(flow, FilesRecord):
            self._files(flow)
        return None

    def _ssl(self, flow: SslRecord) -> None:
        ts = flow.starttime
        if flow.server_name and flow.daddr:
            self.facts.record_sni(flow.daddr, flow.server_name, ts)
        if flow.daddr and is_doh(flow):
            self.facts.mark_doh_server(flow.daddr, ts)
        keys = [*flow.cert_chain_fuids[:MAX_CHAIN], *(fp.lower() for fp in flow.cert_chain_fps[:MAX_CHAIN])]
        if not keys:
            return
        joined = CertConn(client=flow.saddr, server=flow.daddr, uid=flow.uid, server_name=flow.server_name,
                          starttime=ts)
        table = self.state.table(CERT_CONN_TABLE)
        for key in keys:
            if key:
                table.set(key, joined, ts + CERT_JOIN_TTL)

    def _x509(self, flow: X509Record) -> None:
        if not flow.uid:
            return
        ts = flow.starttime
        if flow.fingerprint:
            self.state.table(X509_FP_TABLE).set(flow.uid, flow.fingerprint.lower(), ts + CERT_JOIN_TTL)
        # Stored even when empty: "this certificate's x509 record was seen".
        self.state.table(X509_SAN_TABLE).set(flow.uid, list(flow.san_dns[:MAX_SAN]), ts + CERT_JOIN_TTL)

    def _files(self, flow: FilesRecord) -> None:
        # A certificate file seen before its ssl record (rare): remember its
        # endpoints under the fuid so the join still works.
        if "SSL" not in flow.source.upper() or not flow.uid or not flow.saddr:
            return
        table = self.state.table(CERT_CONN_TABLE)
        if table.get(flow.uid) is None:
            uid = flow.conn_uids[0] if flow.conn_uids else ""
            table.set(flow.uid, CertConn(client=flow.daddr, server=flow.saddr, uid=uid, server_name="",
                                         starttime=flow.starttime), flow.starttime + CERT_JOIN_TTL)
