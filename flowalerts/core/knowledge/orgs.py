"""Well-known organisations (google, microsoft, apple, facebook, twitter).

An IP belongs to an organisation when it is inside one of its ranges or its
ASN (from the offline IP-to-ASN database) is one of the organisation's ASNs; a
domain belongs when it equals or is a subdomain of one of the organisation's
domains (suffix-aware).

API used by detectors (keep it stable):
* ``org_of_ip(ip) -> str | None``            supported org owning the IP
* ``ip_in_org(ip, org) -> bool``
* ``org_of_domain(domain) -> str | None``    supported org owning the domain
* ``domain_in_org(domain, org) -> bool``
* ``asn_of(ip) -> tuple[int, str] | None``   (AS number, AS name), offline
* ``org_of_name(text) -> str | None``        a supported org named as a word in text
                                             (e.g. a certificate's O= or CN=)
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
        return None

    def ip_in_org(self, ip: str, org: str) -> bool:
        return self.org_of_ip(ip) == org

    def org_of_domain(self, domain: str) -> str | None:
        return None

    def domain_in_org(self, domain: str, org: str) -> bool:
        return self.org_of_domain(domain) == org

    def asn_of(self, ip: str) -> tuple[int, str] | None:
        return None

    def org_of_name(self, text: str) -> str | None:
        return None
