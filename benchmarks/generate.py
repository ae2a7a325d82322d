"""Deterministic generator of realistic Zeek JSON logs for the benchmarks.

    python benchmarks/generate.py -n 100000 --seed 1 -o /tmp/bench-100k

writes ``conn.log``, ``dns.log``, ``ssl.log`` and ``http.log`` (Zeek JSON, one
object per line) covering two hours of flow time, each file in the order Zeek
writes it: ``conn.log`` by the end of the connection (``ts + duration``: Zeek
logs a connection when it ends, with ``ts`` = its start), the others by ``ts``:

* N conn records from a few hundred internal hosts (192.168.x.y) to thousands
  of external IPs and domains;
* ~1/3 of the connections are preceded (a few ms earlier, same client) by a
  DNS A query whose answer is the connection's destination;
* ~1/5 have an ssl record (server_name, ja3, validation_status ok), ~1/10 an
  http record;
* a small share of suspicious patterns so detectors do real work: bursts of
  rejected / unanswered connections to one port, NXDOMAIN bursts, long
  connections, large uploads and connections to unknown high ports.

Same ``-n`` and ``--seed`` give byte-identical files (only ``random.Random``
seeded from the arguments is used; no clock, no hash randomisation).
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import sys
import time

START_TS = 1_700_000_000.0
DURATION = 7200.0  # two hours of flow time
N_INTERNAL = 300
N_EXTERNAL = 6000
N_DOMAINS = 4000
DNS_SERVER = "192.168.1.1"

_WORDS = (
    "cloud",
    "cdn",
    "api",
    "static",
    "img",
    "mail",
    "news",
    "shop",
    "login",
    "auth",
    "data",
    "media",
    "video",
    "update",
    "edge",
    "app",
    "docs",
    "blog",
    "portal",
    "stream",
    "files",
    "sync",
    "store",
    "pay",
    "track",
)
_TLDS = ("com", "net", "org", "io", "de", "cz", "co.uk", "info")
_JA3 = tuple(f"{random.Random(i).getrandbits(128):032x}" for i in range(12))
_JA3S = tuple(f"{random.Random(100 + i).getrandbits(128):032x}" for i in range(6))
_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "curl/8.4.0",
    "Microsoft-CryptoAPI/10.0",
)
_OTHER_SERVICES = (  # (port, proto, service) for plain connections
    (53, "udp", "dns"),
    (3478, "udp", ""),
    (123, "udp", ""),
    (22, "tcp", "ssh"),
    (993, "tcp", ""),
    (8080, "tcp", ""),
    (5222, "tcp", ""),
)
_MIMES = ("text/html", "application/json", "image/png", "application/javascript", "text/plain")


class _Net:
    """Hosts, external IPs and domains, derived from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.internal = [f"192.168.{1 + i // 200}.{10 + i % 200}" for i in range(N_INTERNAL)]
        seen: set[str] = set()
        external: list[str] = []
        while len(external) < N_EXTERNAL:
            first = rng.choice((23, 31, 34, 45, 52, 62, 77, 81, 93, 104, 142, 151, 185, 203, 212))
            ip = f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            if ip not in seen:
                seen.add(ip)
                external.append(ip)
        self.external = external
        domains: list[str] = []
        names: set[str] = set()
        while len(domains) < N_DOMAINS:
            name = f"{rng.choice(_WORDS)}{rng.randrange(1000)}.{rng.choice(_WORDS)}-{rng.randrange(100)}.{rng.choice(_TLDS)}"
            if name not in names:
                names.add(name)
                domains.append(name)
        self.domains = domains
        # Each domain resolves to one external IP (a few share one, like CDNs).
        self.domain_ip = [external[rng.randrange(N_EXTERNAL)] for _ in range(N_DOMAINS)]


def _uid(prefix: str, n: int, seed: int) -> str:
    value = (n * 0x9E3779B97F4A7C15 + seed * 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    return f"{prefix}{value:016x}"[:18]


def _conn(ts, uid, s, sp, d, dp, proto, service, dur, ob, rb, state, history, op, rp) -> str:
    return (
        f'{{"ts":{ts:.6f},"uid":"{uid}","id.orig_h":"{s}","id.orig_p":{sp},"id.resp_h":"{d}","id.resp_p":{dp},'
        f'"proto":"{proto}","service":"{service}","duration":{dur:.6f},"orig_bytes":{ob},"resp_bytes":{rb},'
        f'"conn_state":"{state}","local_orig":true,"local_resp":false,"missed_bytes":0,"history":"{history}",'
        f'"orig_pkts":{op},"orig_ip_bytes":{ob + 40 * op},"resp_pkts":{rp},"resp_ip_bytes":{rb + 40 * rp}}}\n'
    )


def _dns(ts, uid, s, sp, query, rcode, answer, trans_id) -> str:
    if rcode == 0:
        tail = f'"rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["{answer}"],"TTLs":[300.0],"rejected":false}}\n'
    else:
        tail = '"rcode":3,"rcode_name":"NXDOMAIN","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"rejected":false}\n'
    return (
        f'{{"ts":{ts:.6f},"uid":"{uid}","id.orig_h":"{s}","id.orig_p":{sp},"id.resp_h":"{DNS_SERVER}","id.resp_p":53,'
        f'"proto":"udp","trans_id":{trans_id},"rtt":0.012,"query":"{query}","qclass":1,"qclass_name":"C_INTERNET",'
        f'"qtype":1,"qtype_name":"A",' + tail
    )


def _ssl(ts, uid, s, sp, d, name, ja3, ja3s) -> str:
    return (
        f'{{"ts":{ts:.6f},"uid":"{uid}","id.orig_h":"{s}","id.orig_p":{sp},"id.resp_h":"{d}","id.resp_p":443,'
        f'"version":"TLSv13","cipher":"TLS_AES_128_GCM_SHA256","curve":"x25519","server_name":"{name}",'
        f'"resumed":false,"established":true,"ssl_history":"CsiI","subject":"CN={name}",'
        f'"issuer":"CN=R3,O=Let\'s Encrypt,C=US","validation_status":"ok","ja3":"{ja3}","ja3s":"{ja3s}"}}\n'
    )


def _http(ts, uid, s, sp, d, host, uri, agent, req_len, resp_len, mime) -> str:
    return (
        f'{{"ts":{ts:.6f},"uid":"{uid}","id.orig_h":"{s}","id.orig_p":{sp},"id.resp_h":"{d}","id.resp_p":80,'
        f'"trans_depth":1,"method":"GET","host":"{host}","uri":"{uri}","version":"1.1","user_agent":"{agent}",'
        f'"request_body_len":{req_len},"response_body_len":{resp_len},"status_code":200,"status_msg":"OK",'
        f'"tags":[],"resp_fuids":["F{uid[1:]}"],"resp_mime_types":["{mime}"]}}\n'
    )


class _Sorted:
    """Writes lines in ts order although they are produced slightly out of order."""

    def __init__(self, path: str) -> None:
        # Closed by close(); a context manager cannot span the generator loop.
        self.handle = open(path, "w", encoding="ascii", newline="\n", buffering=1 << 20)  # noqa: SIM115
        self.heap: list[tuple[float, int, str]] = []
        self.seq = 0
        self.lines = 0

    def add(self, ts: float, line: str) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (ts, self.seq, line))

    def flush_before(self, ts: float) -> None:
        heap, write = self.heap, self.handle.write
        while heap and heap[0][0] < ts:
            write(heapq.heappop(heap)[2])
            self.lines += 1

    def close(self) -> None:
        self.flush_before(float("inf"))
        self.handle.close()


def generate(outdir: str, n: int, seed: int = 1) -> dict[str, int]:
    """Write the four logs for ``n`` conn records; returns lines per log."""
    os.makedirs(outdir, exist_ok=True)
    rng = random.Random(f"flowalerts-bench:{seed}:{n}")
    net = _Net(rng)
    internal, external, domains, domain_ip = net.internal, net.external, net.domains, net.domain_ip
    # The few hosts that misbehave, and what they aim at.
    scanners = internal[-5:]
    uploaders = internal[-8:-5]
    nx_hosts = internal[-12:-8]
    normal = internal[:-12]
    step = DURATION / max(n, 1)
    rand, randrange, choice = rng.random, rng.randrange, rng.choice

    out = {name: _Sorted(os.path.join(outdir, f"{name}.log")) for name in ("conn", "dns", "ssl", "http")}
    conn_out, dns_out, ssl_out, http_out = out["conn"], out["dns"], out["ssl"], out["http"]
    burst: list[tuple] = []  # pending burst connections (src, dst, port, state)
    nx_left = 0
    for i in range(n):
        ts = START_TS + (i + 0.9 * rand()) * step
        uid = _uid("C", i, seed)
        sport = 1024 + randrange(64000)
        r = rand()
        if r < 0.003 and not burst:
            # Start a burst: rejected connections to one port of one host, or
            # unanswered SYNs to one port on many hosts.
            src = choice(scanners)
            port = choice((22, 23, 445, 3389, 8080, 5900))
            if rand() < 0.5:
                dst = choice(external)
                burst = [(src, dst, port, "REJ") for _ in range(15 + randrange(20))]
            else:
                burst = [(src, choice(external), port, "S0") for _ in range(15 + randrange(20))]
        if burst:
            src, dst, port, state = burst.pop()
            if state == "REJ":
                line = _conn(ts, uid, src, sport, dst, port, "tcp", "", 0.0, 0, 0, "REJ", "Sr", 1, 1)
            else:
                line = _conn(ts, uid, src, sport, dst, port, "tcp", "", 0.0, 0, 0, "S0", "S", 1, 0)
            conn_out.add(ts, line)
            continue
        if r < 0.0045 and nx_left == 0:
            nx_left = 10 + randrange(15)
        if nx_left:
            # An NXDOMAIN burst (DGA-like names) from one host, between conns.
            host = choice(nx_hosts)
            for k in range(min(nx_left, 3)):
                name = f"{rng.getrandbits(48):012x}.{choice(_TLDS)}"
                dns_out.add(ts - 0.05 + 0.01 * k, _dns(ts - 0.05 + 0.01 * k, _uid("D", i * 4 + k, seed), host, 1024 + randrange(64000), name, 3, "", randrange(65536)))
            nx_left = max(0, nx_left - 3)
        src = choice(normal)
        kind = rand()
        if kind < 0.2:
            d = randrange(N_DOMAINS)
            dst, port, proto, service = domain_ip[d], 443, "tcp", "ssl"
            with_dns = rand() < 0.6
        elif kind < 0.3:
            d = randrange(N_DOMAINS)
            dst, port, proto, service = domain_ip[d], 80, "tcp", "http"
            with_dns = rand() < 0.6
        else:
            port, proto, service = choice(_OTHER_SERVICES)
            if port == 53:
                d, dst, with_dns = -1, DNS_SERVER, False
            else:
                d = randrange(N_DOMAINS)
                dst = domain_ip[d]
                with_dns = rand() < 0.2
        special = rand()
        if special < 0.002 and proto == "tcp":
            # A long connection (beyond the 1500 s threshold).
            dur = 1600.0 + 4000.0 * rand()
            ob, rb, state, history, op, rp = 20000 + randrange(200000), 50000 + randrange(900000), "SF", "ShADadFf", 300, 400
        elif special < 0.0025 and proto == "tcp":
            # A large upload from one of the uploaders.
            src = choice(uploaders)
            dur = 60.0 + 200.0 * rand()
            ob, rb, state, history, op, rp = 110_000_000 + randrange(90_000_000), 20000, "SF", "ShADadFf", 80000, 9000
        elif special < 0.004 and proto == "tcp":
            # An unknown high port, established.
            port, service, d, with_dns = 10000 + randrange(50000), "", -1, False
            dst = choice(external)
            dur, ob, rb, state, history, op, rp = 5.0 * rand(), 300 + randrange(3000), 300 + randrange(9000), "SF", "ShADadFf", 8, 9
        elif proto == "udp":
            dur, ob, rb, state, history, op, rp = 0.02 * rand(), 40 + randrange(60), 60 + randrange(200), "SF", "Dd", 1, 1
        else:
            dur = 0.05 + 30.0 * rand()
            ob, rb = 200 + randrange(5000), 500 + randrange(200000)
            state, history, op, rp = "SF", "ShADadFf", 6 + randrange(40), 6 + randrange(160)
        if with_dns and d >= 0:
            dts = ts - 0.002 - 0.01 * rand()
            dns_out.add(dts, _dns(dts, _uid("D", i, seed), src, 1024 + randrange(64000), domains[d], 0, dst, randrange(65536)))
        # Zeek writes the connection when it ends.
        conn_out.add(ts + dur, _conn(ts, uid, src, sport, dst, port, proto, service, dur, ob, rb, state, history, op, rp))
        if service == "ssl":
            sts = ts + 0.01 + 0.05 * rand()
            ssl_out.add(sts, _ssl(sts, uid, src, sport, dst, domains[d], _JA3[randrange(len(_JA3))], _JA3S[randrange(len(_JA3S))]))
        elif service == "http":
            hts = ts + 0.01 + 0.05 * rand()
            uri = f"/{choice(_WORDS)}/{randrange(100000)}.html"
            http_out.add(hts, _http(hts, uid, src, sport, dst, domains[d], uri, choice(_AGENTS), 0, 500 + randrange(90000), choice(_MIMES)))
        if i % 256 == 0:
            horizon = ts - 1.0
            conn_out.flush_before(horizon)
            dns_out.flush_before(horizon)
            ssl_out.flush_before(horizon)
            http_out.flush_before(horizon)
    counts = {}
    for name, writer in out.items():
        writer.close()
        counts[name] = writer.lines
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="number of conn records (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.output, args.n, args.seed)
    elapsed = time.perf_counter() - started
    total = sum(counts.values())
    detail = ", ".join(f"{name} {count}" for name, count in counts.items())
    print(f"wrote {total} lines ({detail}) to {args.output} in {elapsed:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
