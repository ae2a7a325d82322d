"""The local whitelist (whitelist.conf): IPs, domains, organisations, MACs."""

from __future__ import annotations


class Whitelist:
    def __init__(self) -> None:
        self.domains: set[str] = set()
        self.ips: set[str] = set()

    @classmethod
    def empty(cls) -> Whitelist:
        return cls()

    @classmethod
    def load(cls, config, notify=print) -> Whitelist:
        return cls()

    def domain_whitelisted(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        while domain:
            if domain in self.domains:
                return True
            _, _, domain = domain.partition(".")
        return False

    def ip_whitelisted(self, ip: str) -> bool:
        return ip in self.ips
