"""Known ports (services.csv) and ports used by specific organisations.

API used by detectors (keep it stable):
* ``service(port, proto) -> str | None``   name from services.csv
* ``is_known(port, proto) -> bool``
* ``org_ports(port, proto) -> list[OrgPort]`` rows of ports_used_by_specific_orgs.csv
  matching the port; each has ``org`` (lower-case name) and ``network``
  (an ipaddress network, or None when the row has no IP).
"""

from __future__ import annotations

import dataclasses
import ipaddress


@dataclasses.dataclass(frozen=True)
class OrgPort:
    org: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None


class PortRegistry:
    def __init__(self) -> None:
        self._services: dict[tuple[int, str], str] = {}
        self._org_ports: dict[tuple[int, str], list[OrgPort]] = {}

    @classmethod
    def empty(cls) -> PortRegistry:
        return cls()

    @classmethod
    def load_default(cls) -> PortRegistry:
        return cls()

    def service(self, port: int, proto: str) -> str | None:
        return self._services.get((port, proto.lower()))

    def is_known(self, port: int, proto: str) -> bool:
        return self.service(port, proto) is not None

    def org_ports(self, port: int, proto: str) -> list[OrgPort]:
        return self._org_ports.get((port, proto.lower()), [])
