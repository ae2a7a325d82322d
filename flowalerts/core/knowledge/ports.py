"""Known ports (services.csv) and ports used by specific organisations."""

from __future__ import annotations


class PortRegistry:
    def __init__(self) -> None:
        self._services: dict[tuple[int, str], str] = {}

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
