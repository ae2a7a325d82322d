"""Helpers shared by the dns.log detectors: query-name classes and answer parsing.

Everything here takes attacker-controlled strings (queries, answers) and only
uses plain string operations and ``ipaddress`` parsing, so no input can make it
slow or raise.
"""

from __future__ import annotations

import functools
import ipaddress

from flowalerts.core.ips import parse_ip

MAX_NAME = 253
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.*")

_LOOPBACK_V4 = ipaddress.ip_network("127.0.0.0/8")
_BLOCKING_V6 = frozenset({ipaddress.ip_address("::"), ipaddress.ip_address("::1")})
_UNSPECIFIED_V4 = ipaddress.ip_address("0.0.0.0")


def normalize(name: str) -> str:
    """Lower case, without the trailing root dot."""
    if not isinstance(name, str):
        return ""
    return name.strip().rstrip(".").lower()


def has_tld(name: str) -> bool:
    """At least two labels (``chrome-test`` has none; ``example.com`` has one)."""
    return "." in name.strip(".")


def is_arpa(name: str) -> bool:
    return name == "arpa" or name.endswith(".arpa")


def is_reverse_v4(name: str) -> bool:
    return name.endswith(".in-addr.arpa")


def is_local(name: str) -> bool:
    return name == "local" or name.endswith(".local")


def is_localhost(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost")


def is_wpad(name: str) -> bool:
    """WPAD in any case: ``wpad`` or ``wpad.<search domain>``."""
    return name.partition(".")[0] == "wpad"


def is_cymru(name: str) -> bool:
    return name == "cymru.com" or name.endswith(".cymru.com")


@functools.lru_cache(maxsize=65536)
def is_blocking_answer(text: str) -> bool:
    """The answers ad-blocking / sinkholing resolvers give: 0.0.0.0, 127/8, ::, ::1."""
    ip = parse_ip(text)
    if ip is None:
        return False
    if ip.version == 4:
        return ip == _UNSPECIFIED_V4 or ip in _LOOPBACK_V4
    return ip in _BLOCKING_V6


@functools.lru_cache(maxsize=65536)
def canonical_ip(text: str) -> str | None:
    """``text`` as an IP in canonical form, or None if it is not an IP."""
    ip = parse_ip(text.strip())
    return None if ip is None else str(ip)


def answer_ips(answers: list[str]) -> list[str]:
    """The answers that are IP addresses, canonical form, in order, no repeats."""
    out: dict[str, None] = {}
    for answer in answers or ():
        ip = canonical_ip(answer) if isinstance(answer, str) else None
        if ip is not None:
            out[ip] = None
    return list(out)


def looks_like_domain(text: str) -> bool:
    """A host name (a CNAME or PTR target), not an IP, a TXT/SOA text or '-'."""
    if not text or len(text) > MAX_NAME or parse_ip(text) is not None:
        return False
    name = text.rstrip(".").lower()
    if "." not in name or ".." in name or name.startswith("."):
        return False
    return all(ch in _NAME_CHARS for ch in name)


def answer_names(answers: list[str]) -> list[str]:
    """The answers that are domain names (CNAME chain / PTR targets), normalized."""
    out: dict[str, None] = {}
    for answer in answers or ():
        if isinstance(answer, str) and looks_like_domain(answer.strip()):
            out[normalize(answer)] = None
    return list(out)


def ptr_ip(query: str) -> str | None:
    """The IP a reverse name stands for: ``4.3.2.1.in-addr.arpa`` -> ``1.2.3.4``."""
    if query.endswith(".in-addr.arpa"):
        labels = query[: -len(".in-addr.arpa")].split(".")
        if len(labels) != 4:
            return None
        ip = parse_ip(".".join(reversed(labels)))
        return str(ip) if ip is not None else None
    if query.endswith(".ip6.arpa"):
        nibbles = query[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
            return None
        hexdigits = "".join(reversed(nibbles))
        ip = parse_ip(":".join(hexdigits[i : i + 4] for i in range(0, 32, 4)))
        return str(ip) if ip is not None else None
    return None


def txt_text(answer: str) -> str | None:
    """The text of a Zeek TXT answer without the ``TXT <len> `` prefixes.

    One answer may hold several character-strings (``TXT 9 txtvers=1 TXT 5
    note=``); their texts are joined with a space. Each length is trusted only
    if it fits; otherwise the rest of the answer is taken as text.
    """
    if not isinstance(answer, str) or not answer.startswith("TXT"):
        return None
    parts: list[str] = []
    pos, end = 0, len(answer)
    while pos < end and answer.startswith("TXT", pos):
        pos += 3
        while pos < end and answer[pos] == " ":
            pos += 1
        digits_end = pos
        while digits_end < end and digits_end - pos < 6 and answer[digits_end].isdigit():
            digits_end += 1
        if digits_end == pos or digits_end >= end or answer[digits_end] != " ":
            parts.append(answer[pos:])  # no usable length: the rest is text
            break
        length = int(answer[pos:digits_end])
        start = digits_end + 1
        if start + length > end:
            parts.append(answer[start:])
            break
        parts.append(answer[start : start + length])
        pos = start + length
        if pos < end and answer[pos] == " ":
            pos += 1
        if pos < end and not answer.startswith("TXT", pos):
            parts.append(answer[pos:])
            break
    return " ".join(part for part in parts if part)
