"""Known ports (services.csv) and ports used by specific organisations.

API used by detectors (keep it stable):
* ``service(port, proto) -> str | None``   name from services.csv
* ``is_known(port, proto) -> bool``
* ``org_ports(port, proto) -> list[OrgPort]`` rows of ports_used_by_specific_orgs.csv
  matching the port; each has ``org`` (lower-case name) and ``network``
  (an ipaddress network, or None when the row has no IP).
* ``device_service(port, proto) -> str | None`` the service of a common home
  or office device on that port (device_ports.csv: Google Cast, AirPlay,
  Sonos, printers ...); meaningful for hosts of the local network only.

A row without an IP only says the organisation uses that port somewhere; the
reference treated it as "any host" (spec 5.3 item 21), so detectors should
also require the destination to belong to the organisation.

Data: ``slips_files/flowalerts/data/ports_info/services.csv`` (written by
``scripts/build_services_csv.py``), ``ports_used_by_specific_orgs.csv`` and
``device_ports.csv`` (our own list, ``port,proto,service,devices``).
Malformed rows are skipped and counted in ``bad_rows``.
"""

from __future__ import annotations

import csv
import dataclasses
import ipaddress
import pathlib

from flowalerts.data import DATA_DIR as PACKAGE_DATA

DATA_DIR = PACKAGE_DATA / "ports_info"

# A range wider than this in the org-ports file is treated as a bad row.
_MAX_RANGE = 65536


@dataclasses.dataclass(frozen=True)
class OrgPort:
    org: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None


def _port(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit():
        return None
    value = int(text)
    return value if 0 <= value <= 65535 else None


def _proto(text: str) -> str | None:
    text = text.strip().lower()
    return text if text.isalpha() and len(text) <= 10 else None


def _port_range(text: str) -> range | None:
    """``443`` or ``a-b`` (inclusive); None when malformed."""
    first, sep, last = text.strip().partition("-")
    start = _port(first)
    end = _port(last) if sep else start
    if start is None or end is None or end < start or end - start >= _MAX_RANGE:
        return None
    return range(start, end + 1)


class PortRegistry:
    def __init__(self) -> None:
        self._services: dict[tuple[int, str], str] = {}
        self._org_ports: dict[tuple[int, str], list[OrgPort]] = {}
        self._device_ports: dict[tuple[int, str], str] = {}
        self.bad_rows = 0

    @classmethod
    def empty(cls) -> PortRegistry:
        return cls()

    @classmethod
    def load_default(cls) -> PortRegistry:
        return cls.load_files(DATA_DIR / "services.csv", DATA_DIR / "ports_used_by_specific_orgs.csv",
                              device_ports=DATA_DIR / "device_ports.csv")

    @classmethod
    def load_files(
        cls,
        services: str | pathlib.Path | None = None,
        org_ports: str | pathlib.Path | None = None,
        notify=None,
        device_ports: str | pathlib.Path | None = None,
    ) -> PortRegistry:
        registry = cls()
        if services is not None:
            registry.bad_rows += registry._load_services(_read_lines(services, notify))
        if org_ports is not None:
            registry.bad_rows += registry._load_org_ports(_read_lines(org_ports, notify))
        if device_ports is not None:
            registry.bad_rows += registry._load_device_ports(_read_lines(device_ports, notify))
        if registry.bad_rows and notify is not None:
            notify(f"ports: skipped {registry.bad_rows} malformed row(s)")
        return registry

    def _load_services(self, lines: list[str]) -> int:
        bad = 0
        for row in csv.reader(line for line in lines if line.strip() and not line.lstrip().startswith("#")):
            if len(row) < 3:
                bad += 1
                continue
            name, port, proto = row[0].strip(), _port(row[1]), _proto(row[2])
            if not name or port is None or proto is None:
                bad += 1
                continue
            self._services.setdefault((port, proto), name)
        return bad

    def _load_org_ports(self, lines: list[str]) -> int:
        bad = 0
        for row in csv.reader(line for line in lines if line.strip() and not line.lstrip().startswith("#")):
            if len(row) < 4:
                bad += 1
                continue
            org, ip_text, port_text, proto_text = (cell.strip() for cell in row[:4])
            if org.lower() == "organization" and port_text.lower() == "port":
                continue  # the header
            ports, proto = _port_range(port_text), _proto(proto_text)
            network = None
            if ip_text:
                try:
                    network = ipaddress.ip_network(ip_text, strict=False)
                except ValueError:
                    network = False
            if not org or ports is None or proto is None or network is False:
                bad += 1
                continue
            entry = OrgPort(org=org.lower(), network=network)
            for port in ports:
                rows = self._org_ports.setdefault((port, proto), [])
                if entry not in rows:
                    rows.append(entry)
        return bad

    def _load_device_ports(self, lines: list[str]) -> int:
        bad = 0
        for row in csv.reader(line for line in lines if line.strip() and not line.lstrip().startswith("#")):
            if len(row) < 3:
                bad += 1
                continue
            if row[0].strip().lower() == "port" and row[1].strip().lower() == "proto":
                continue  # the header
            port, proto, name = _port(row[0]), _proto(row[1]), row[2].strip()
            if port is None or proto is None or not name:
                bad += 1
                continue
            self._device_ports.setdefault((port, proto), name)
        return bad

    def device_service(self, port: int, proto: str) -> str | None:
        if not isinstance(proto, str):
            return None
        return self._device_ports.get((port, proto.lower()))

    def service(self, port: int, proto: str) -> str | None:
        if not isinstance(proto, str):
            return None
        return self._services.get((port, proto.lower()))

    def is_known(self, port: int, proto: str) -> bool:
        return self.service(port, proto) is not None

    def org_ports(self, port: int, proto: str) -> list[OrgPort]:
        if not isinstance(proto, str):
            return []
        return self._org_ports.get((port, proto.lower()), [])


def _read_lines(path: str | pathlib.Path, notify) -> list[str]:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        if notify is not None:
            notify(f"ports: cannot read {path}: {exc.strerror or exc}")
        return []
