"""A generated capture of issue 25's shape, as Zeek writes it (TSV logs).

One infected Windows host retries its C2 on an unknown port (2404/tcp, no
DNS name) a few hundred times within one hour: TCP attempts that are never
answered (``S0``, three SYNs) or refused (``REJ``), as a RAT whose server is
down does. Beside it a few normal hosts (and the infected host's own normal
browsing) resolve names at the local resolver and open HTTPS sessions to the
answers. Deterministic (``random.Random(seed)``).

The logs are written as Zeek writes them: TSV with Zeek's header lines,
conn.log in the order connections end (``ts + duration``; Zeek logs a
connection when it is over), dns.log and ssl.log by time.
"""

from __future__ import annotations

import dataclasses
import pathlib
import random

T0 = 1_700_000_000.0
INFECTED = "192.168.1.50"
NORMAL = ("192.168.1.10", "192.168.1.11", "192.168.1.12")
RESOLVER = "192.168.1.1"
C2, C2_PORT = "91.92.240.17", 2404
SITES = (
    ("www.wikipedia.org", "185.15.59.224"),
    ("github.com", "140.82.121.4"),
    ("www.python.org", "151.101.0.223"),
    ("docs.zeek.org", "104.18.20.131"),
    ("www.mozilla.org", "34.160.111.145"),
    ("duckduckgo.com", "52.142.124.215"),
)

def _words(text: str) -> list[str]:
    return text.split()


_HEADER = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\t{path}\n#open\t2023-11-14-22-13-20\n"
CONN_FIELDS = _words("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes resp_bytes "
               "conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes "
               "tunnel_parents")
CONN_TYPES = _words("time string addr port addr port enum string interval count count string bool bool count string count "
              "count count count set[string]")
DNS_FIELDS = _words("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass qclass_name qtype "
              "qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected")
DNS_TYPES = _words("time string addr port addr port enum count interval string count string count string count string bool "
             "bool bool bool count vector[string] vector[interval] bool")
SSL_FIELDS = _words("ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher curve server_name resumed last_alert "
              "next_protocol established cert_chain_fuids client_cert_chain_fuids subject issuer client_subject "
              "client_issuer validation_status")
SSL_TYPES = _words("time string addr port addr port string string string string bool string string bool vector[string] "
             "vector[string] string string string string string")


@dataclasses.dataclass
class Capture:
    folder: pathlib.Path
    attempts: int  # C2 connection attempts of the infected host
    uids: dict[str, int]  # conn.log lines per originator


def _log(path: pathlib.Path, name: str, fields: list[str], types: list[str], rows: list[tuple[float, list[str]]]) -> None:
    lines = [_HEADER.format(path=name), "#fields\t" + "\t".join(fields) + "\n", "#types\t" + "\t".join(types) + "\n"]
    lines += ["\t".join(row) + "\n" for _, row in sorted(rows, key=lambda item: item[0])]
    lines.append("#close\t2023-11-14-23-13-20\n")
    path.write_text("".join(lines))


def write_infection_capture(folder: pathlib.Path, attempts: int = 300, seed: int = 25) -> Capture:
    """Write conn.log, dns.log and ssl.log of the capture into ``folder``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    conn: list[tuple[float, list[str]]] = []
    dns: list[tuple[float, list[str]]] = []
    ssl: list[tuple[float, list[str]]] = []
    counter = [0]
    per_host: dict[str, int] = {}

    def uid() -> str:
        counter[0] += 1
        return f"C{rng.getrandbits(64):016x}{counter[0]:02d}"[:18]

    def add_conn(ts: float, u: str, src: str, sport: int, dst: str, dport: int, proto: str, service: str,
                 duration: float, ob: int, rb: int, state: str, history: str, op: int, oip: int, rp: int, rip: int) -> None:
        per_host[src] = per_host.get(src, 0) + 1
        conn.append((ts + duration, [f"{ts:.6f}", u, src, str(sport), dst, str(dport), proto, service or "-",
                                     f"{duration:.6f}", str(ob), str(rb), state, "T", "F", "0", history,
                                     str(op), str(oip), str(rp), str(rip), "(empty)"]))

    def browse(host: str, ts: float) -> None:
        name, address = rng.choice(SITES)
        rtt = rng.uniform(0.005, 0.03)
        u, sport = uid(), rng.randint(49152, 65000)
        add_conn(ts, u, host, sport, RESOLVER, 53, "udp", "dns", rtt, 35, 51, "SF", "Dd", 1, 63, 1, 79)
        dns.append((ts, [f"{ts:.6f}", u, host, str(sport), RESOLVER, "53", "udp", str(rng.randint(1, 65535)),
                         f"{rtt:.6f}", name, "1", "C_INTERNET", "1", "A", "0", "NOERROR", "F", "F", "T", "T", "0",
                         address, "300.000000", "F"]))
        start = ts + rtt + rng.uniform(0.001, 0.01)
        duration = rng.uniform(0.5, 30.0)
        u, sport = uid(), rng.randint(49152, 65000)
        sent, got = rng.randint(800, 4000), rng.randint(4000, 90000)
        add_conn(start, u, host, sport, address, 443, "tcp", "ssl", duration, sent, got, "SF", "ShADadFf",
                 12, sent + 500, 70, got + 2900)
        ssl.append((start + 0.05, [f"{start + 0.05:.6f}", u, host, str(sport), address, "443", "TLSv13",
                                   "TLS_AES_128_GCM_SHA256", "x25519", name, "F", "-", "h2", "T", "(empty)", "(empty)",
                                   "-", "-", "-", "-", "-"]))

    # Normal browsing, all through the hour (the infected host browses too).
    for host in (*NORMAL, INFECTED):
        for _ in range(15):
            browse(host, T0 + rng.uniform(0.0, 3300.0))
    # The C2 retries: every ~10 s, a never answered (S0) or refused (REJ) attempt.
    ts, sport = T0 + 30.0, 49700
    for n in range(attempts):
        ts += rng.uniform(8.0, 12.0)
        sport += 1
        if n % 3 == 2:
            add_conn(ts, uid(), INFECTED, sport, C2, C2_PORT, "tcp", "", 0.000231, 0, 0, "REJ", "Sr", 1, 52, 1, 40)
        else:
            add_conn(ts, uid(), INFECTED, sport, C2, C2_PORT, "tcp", "", 9.012, 0, 0, "S0", "S", 3, 156, 0, 0)
    _log(folder / "conn.log", "conn", CONN_FIELDS, CONN_TYPES, conn)
    _log(folder / "dns.log", "dns", DNS_FIELDS, DNS_TYPES, dns)
    _log(folder / "ssl.log", "ssl", SSL_FIELDS, SSL_TYPES, ssl)
    return Capture(folder, attempts, per_host)
