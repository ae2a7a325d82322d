"""The local whitelist (whitelist.conf): IPs, domains, organisations, MACs.

Slips-compatible CSV rows ``"IoCType","IoCValue","Direction","IgnoreType"``:

* IoCType: ``ip`` (an address or a CIDR), ``domain``, ``organization`` (one of
  the supported organisations: its IPs, ASNs and domains), ``mac``;
* Direction: ``src``, ``dst`` or ``both`` - which side of a flow/alert the value
  must be on;
* IgnoreType: ``flows``, ``alerts`` or ``both``.

Lines starting with ``;`` (comments) or ``#`` (disabled entries) are skipped,
as are malformed rows (counted in ``bad_rows``). Domains match exactly or as a
parent domain (an entry ``abuse.ch`` covers ``sslbl.abuse.ch``).
"""

from __future__ import annotations

import csv
import dataclasses
import ipaddress

from flowalerts.core.ips import parse_ip
from flowalerts.knowledge.orgs import SUPPORTED_ORGS, Organizations

_DIRECTIONS = ("src", "dst", "both")
_IGNORE_TYPES = ("flows", "alerts", "both")


@dataclasses.dataclass(frozen=True)
class WhitelistEntry:
    ioc_type: str  # ip | domain | organization | mac
    value: str
    direction: str = "both"  # src | dst | both
    ignore_type: str = "both"  # flows | alerts | both

    def covers(self, direction: str | None, what: str | None) -> bool:
        """Whether the entry applies to this side (src/dst) and kind (flows/alerts)."""
        if direction is not None and self.direction != "both" and self.direction != direction:
            return False
        return what is None or self.ignore_type == "both" or self.ignore_type == what


def _side(direction) -> str | None:
    """``"src"``/``"dst"`` from a string or a Direction enum; None means either."""
    if direction is None:
        return None
    text = str(getattr(direction, "value", direction)).strip().lower()
    return text if text in ("src", "dst") else None


def _normalise_domain(domain: str) -> str:
    return domain.strip().lower().rstrip(".") if isinstance(domain, str) else ""


class Whitelist:
    def __init__(self, orgs: Organizations | None = None) -> None:
        self.domains: set[str] = set()
        self.ips: set[str] = set()
        self.entries: list[WhitelistEntry] = []
        self.bad_rows = 0
        self._orgs = orgs or Organizations.empty()
        self._domain_entries: dict[str, list[WhitelistEntry]] = {}
        self._ip_entries: dict[str, list[WhitelistEntry]] = {}
        self._net_entries: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, WhitelistEntry]] = []
        self._org_entries: list[WhitelistEntry] = []
        self._mac_entries: dict[str, list[WhitelistEntry]] = {}

    @classmethod
    def empty(cls) -> Whitelist:
        return cls()

    @classmethod
    def load(cls, config, notify=print, orgs: Organizations | None = None) -> Whitelist:
        """``whitelists.local_whitelist_path`` when ``enable_local_whitelist``; else empty."""
        whitelist = cls(orgs=orgs)
        settings = config.whitelists
        if not settings.enable_local_whitelist:
            return whitelist
        path = config.path(settings.local_whitelist_path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            if notify is not None:
                notify(f"whitelist {path} not loaded: {exc.strerror or exc}; nothing is whitelisted")
            return whitelist
        whitelist.load_text(text)
        if whitelist.bad_rows and notify is not None:
            notify(f"whitelist {path}: skipped {whitelist.bad_rows} malformed row(s)")
        return whitelist

    @classmethod
    def from_text(cls, text: str, orgs: Organizations | None = None) -> Whitelist:
        whitelist = cls(orgs=orgs)
        whitelist.load_text(text)
        return whitelist

    def load_text(self, text: str) -> None:
        lines = [
            line for line in text.splitlines() if line.strip() and not line.lstrip().startswith((";", "#"))
        ]
        for row in csv.reader(lines):
            cells = [cell.strip() for cell in row]
            if len(cells) < 2:
                self.bad_rows += 1
                continue
            if cells[0].lower() == "ioctype":
                continue  # the header
            entry = self._entry(cells)
            if entry is None:
                self.bad_rows += 1
            else:
                self.add(entry)

    @staticmethod
    def _entry(cells: list[str]) -> WhitelistEntry | None:
        ioc_type = cells[0].lower()
        direction = cells[2].lower() if len(cells) > 2 and cells[2] else "both"
        ignore_type = cells[3].lower() if len(cells) > 3 and cells[3] else "both"
        if direction not in _DIRECTIONS or ignore_type not in _IGNORE_TYPES:
            return None
        value = cells[1]
        if ioc_type == "ip":
            address = parse_ip(value)
            if address is not None:
                value = str(address)
            else:
                try:
                    value = str(ipaddress.ip_network(value, strict=False))
                except ValueError:
                    return None
        elif ioc_type == "domain":
            value = _normalise_domain(value)
            if not value or " " in value:
                return None
        elif ioc_type == "organization":
            value = value.lower()
            if value not in SUPPORTED_ORGS:
                return None
        elif ioc_type == "mac":
            value = value.lower()
            if len(value.split(":")) != 6:
                return None
        else:
            return None
        return WhitelistEntry(ioc_type=ioc_type, value=value, direction=direction, ignore_type=ignore_type)

    def add(self, entry: WhitelistEntry) -> None:
        self.entries.append(entry)
        if entry.ioc_type == "ip":
            if "/" in entry.value:
                self._net_entries.append((ipaddress.ip_network(entry.value), entry))
            else:
                self.ips.add(entry.value)
                self._ip_entries.setdefault(entry.value, []).append(entry)
        elif entry.ioc_type == "domain":
            self.domains.add(entry.value)
            self._domain_entries.setdefault(entry.value, []).append(entry)
        elif entry.ioc_type == "organization":
            self._org_entries.append(entry)
        elif entry.ioc_type == "mac":
            self._mac_entries.setdefault(entry.value, []).append(entry)

    # Lookups -----------------------------------------------------------

    def domain_entries(self, domain: str) -> list[WhitelistEntry]:
        """Entries covering the domain: itself, a parent domain, or its organisation."""
        domain = _normalise_domain(domain)
        found: list[WhitelistEntry] = []
        rest = domain
        while rest:
            entries = self._domain_entries.get(rest)
            if entries:
                found.extend(entries)
            elif rest in self.domains:  # added to the set directly
                found.append(WhitelistEntry(ioc_type="domain", value=rest))
            _, _, rest = rest.partition(".")
        if self._org_entries and domain:
            org = self._orgs.org_of_domain(domain)
            if org is not None:
                found.extend(e for e in self._org_entries if e.value == org)
        return found

    def ip_entries(self, ip: str) -> list[WhitelistEntry]:
        """Entries covering the IP: exact, a whitelisted network, or its organisation."""
        address = parse_ip(ip) if isinstance(ip, str) else None
        if address is None:
            return []
        found = list(self._ip_entries.get(str(address), ()))
        if not found and (str(address) in self.ips or ip in self.ips):  # added to the set directly
            found.append(WhitelistEntry(ioc_type="ip", value=str(address)))
        found.extend(e for net, e in self._net_entries if address.version == net.version and address in net)
        if self._org_entries:
            org = self._orgs.org_of_ip(str(address))
            if org is not None:
                found.extend(e for e in self._org_entries if e.value == org)
        return found

    def mac_entries(self, mac: str) -> list[WhitelistEntry]:
        return list(self._mac_entries.get(mac.strip().lower(), ())) if isinstance(mac, str) else []

    def domain_whitelisted(self, domain: str) -> bool:
        return bool(self.domain_entries(domain))

    def ip_whitelisted(self, ip: str) -> bool:
        return bool(self.ip_entries(ip))

    def is_whitelisted_alert(self, ioc_value: str, ioc_type: str, direction=None) -> bool:
        """Whether an evidence side (``ioc_type`` IP/DOMAIN, ``direction`` SRC/DST) is whitelisted for alerts."""
        return self._matches(ioc_value, ioc_type, direction, "alerts")

    def is_whitelisted_flow(self, ioc_value: str, ioc_type: str, direction=None) -> bool:
        """Whether a flow endpoint (or its domain) is whitelisted for flows."""
        return self._matches(ioc_value, ioc_type, direction, "flows")

    def _matches(self, ioc_value: str, ioc_type, direction, what: str) -> bool:
        kind = str(getattr(ioc_type, "value", ioc_type)).strip().lower()
        side = _side(direction)
        if kind == "ip":
            entries = self.ip_entries(ioc_value)
        elif kind == "domain":
            entries = self.domain_entries(ioc_value)
        elif kind == "mac":
            entries = self.mac_entries(ioc_value)
        else:
            return False
        return any(entry.covers(side, what) for entry in entries)
