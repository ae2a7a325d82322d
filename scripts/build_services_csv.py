#!/usr/bin/env python3
"""Regenerate slips_files/flowalerts/data/ports_info/services.csv.

Rows ``name,port,proto,description`` (no header) from this machine's
/etc/services (IANA names), plus a short list of well-known service ports we
state ourselves that /etc/services usually lacks. Our own rows win.

Usage: python scripts/build_services_csv.py [--services /etc/services] [--out FILE]
"""

from __future__ import annotations

import argparse
import csv
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "slips_files" / "flowalerts" / "data" / "ports_info" / "services.csv"

# (name, first port, last port, protos, description)
EXTRA: list[tuple[str, int, int, tuple[str, ...], str]] = [
    ("http", 80, 80, ("tcp",), "World Wide Web HTTP"),
    ("https", 443, 443, ("tcp", "udp"), "HTTP over TLS, and QUIC over UDP"),
    ("dns-over-tls", 853, 853, ("tcp",), "DNS over TLS"),
    ("dns-over-quic", 853, 853, ("udp",), "DNS over QUIC"),
    ("submissions", 465, 465, ("tcp",), "SMTP submission over TLS"),
    ("rdp", 3389, 3389, ("tcp", "udp"), "Remote Desktop Protocol"),
    ("stun", 3478, 3478, ("tcp", "udp"), "STUN/TURN NAT traversal"),
    ("stuns", 5349, 5349, ("tcp", "udp"), "STUN/TURN over TLS"),
    ("ssdp", 1900, 1900, ("udp",), "Simple Service Discovery Protocol (UPnP)"),
    ("mdns", 5353, 5353, ("udp",), "Multicast DNS"),
    ("llmnr", 5355, 5355, ("tcp", "udp"), "Link-Local Multicast Name Resolution"),
    ("ws-discovery", 3702, 3702, ("udp",), "Web Services Dynamic Discovery"),
    ("nat-pmp", 5351, 5351, ("udp",), "NAT Port Mapping Protocol / PCP"),
    ("http-alt", 8080, 8080, ("tcp",), "Alternative HTTP port"),
    ("http-alt2", 8000, 8000, ("tcp",), "Alternative HTTP port"),
    ("https-alt", 8443, 8443, ("tcp",), "Alternative HTTPS port"),
    ("mqtt", 1883, 1883, ("tcp",), "MQTT"),
    ("secure-mqtt", 8883, 8883, ("tcp",), "MQTT over TLS"),
    ("apple-push", 5223, 5223, ("tcp",), "Apple Push Notification service"),
    ("google-mtalk", 5228, 5228, ("tcp",), "Google Firebase Cloud Messaging / Play services"),
    ("google-meet", 19302, 19309, ("udp", "tcp"), "Google Meet / STUN media"),
    ("xmpp-client", 5222, 5222, ("tcp",), "XMPP client connection"),
    ("pptp", 1723, 1723, ("tcp",), "Point-to-Point Tunneling Protocol"),
    ("openvpn", 1194, 1194, ("tcp", "udp"), "OpenVPN"),
    ("wireguard", 51820, 51820, ("udp",), "WireGuard"),
    ("ipsec-nat-t", 4500, 4500, ("udp",), "IPsec NAT traversal"),
    ("isakmp", 500, 500, ("udp",), "IKE key exchange"),
    ("bittorrent", 6881, 6889, ("tcp", "udp"), "BitTorrent"),
    ("spotify-connect", 57621, 57621, ("udp",), "Spotify Connect discovery"),
    ("dhcpv6-client", 546, 546, ("udp",), "DHCPv6 client"),
    ("dhcpv6-server", 547, 547, ("udp",), "DHCPv6 server"),
    ("netbios-ns", 137, 137, ("udp",), "NetBIOS name service"),
    ("netbios-dgm", 138, 138, ("udp",), "NetBIOS datagram service"),
    ("netbios-ssn", 139, 139, ("tcp",), "NetBIOS session service"),
    ("microsoft-ds", 445, 445, ("tcp",), "SMB over TCP"),
    ("ms-wbt-server", 3389, 3389, ("tcp",), "Remote Desktop Protocol"),
    ("vnc", 5900, 5900, ("tcp",), "Virtual Network Computing"),
    # IANA registers these for both transports; /etc/services lists one or none,
    # and real networks use them (issue 21: unknown-port evidence on them).
    # Not 81/tcp (hosts2-ns) nor 2323/tcp (3d-nfsd), though IANA lists them:
    # they are what botnet scanners probe above all (web cameras and DVRs on
    # 81, telnet on 2323), so a probe to them stays an unknown-port finding.
    ("snpp", 444, 444, ("tcp", "udp"), "Simple Network Paging Protocol"),
    ("dhcpv6-client", 546, 546, ("tcp",), "DHCPv6 client"),
    ("dhcpv6-server", 547, 547, ("tcp",), "DHCPv6 server"),
    ("h323hostcall", 1720, 1720, ("tcp", "udp"), "H.323 call signalling"),
    ("pptp", 1723, 1723, ("udp",), "Point-to-Point Tunneling Protocol"),
]


def parse_etc_services(text: str) -> list[tuple[str, int, str, str]]:
    rows = []
    for line in text.splitlines():
        body, _, comment = line.partition("#")
        fields = body.split()
        if len(fields) < 2 or "/" not in fields[1]:
            continue
        port_text, _, proto = fields[1].partition("/")
        if not port_text.isdigit() or not proto:
            continue
        description = comment.strip() or " ".join(fields[2:])
        rows.append((fields[0], int(port_text), proto.lower(), description))
    return rows


def build(services: pathlib.Path, out: pathlib.Path) -> int:
    try:
        system_rows = parse_etc_services(services.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        system_rows = []
    rows: dict[tuple[int, str], tuple[str, int, str, str]] = {}
    for name, port, proto, description in system_rows:
        rows.setdefault((port, proto), (name, port, proto, description))
    for name, first, last, protos, description in EXTRA:
        for port in range(first, last + 1):
            for proto in protos:
                rows[(port, proto)] = (name, port, proto, description)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for key in sorted(rows):
            writer.writerow(rows[key])
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=pathlib.Path, default=pathlib.Path("/etc/services"))
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    count = build(args.services, args.out)
    print(f"{count} rows written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
