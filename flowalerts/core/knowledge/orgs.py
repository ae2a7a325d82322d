"""Well-known organisations (google, microsoft, apple, facebook, twitter).

An IP belongs to an organisation when it is inside one of its ranges or its
ASN is one of the organisation's ASNs; a domain belongs when it equals or is a
subdomain of one of the organisation's domains.
"""

from __future__ import annotations

SUPPORTED_ORGS = ("google", "microsoft", "apple", "facebook", "twitter")


class Organizations:
    def __init__(self) -> None:
        pass

    @classmethod
    def empty(cls) -> Organizations:
        return cls()

    @classmethod
    def load_default(cls) -> Organizations:
        return cls()

    def org_of_ip(self, ip: str) -> str | None:
        """The supported organisation owning ``ip`` (range or ASN), if any."""
        return None

    def ip_in_org(self, ip: str, org: str) -> bool:
        return self.org_of_ip(ip) == org

    def org_of_domain(self, domain: str) -> str | None:
        return None

    def domain_in_org(self, domain: str, org: str) -> bool:
        return self.org_of_domain(domain) == org

    def asn_of(self, ip: str) -> tuple[int, str] | None:
        """(AS number, AS name) from the offline database, if known."""
        return None
