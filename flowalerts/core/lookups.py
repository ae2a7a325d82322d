"""Optional network lookups (whois creation date, ASN, rDNS) behind one interface.

Lookups never block the flow loop: ``creation_date`` returns what the cache
knows *now* (or None) and, when online, schedules a background lookup whose
result later queries will see. ``NullLookups`` is used with ``--offline`` and
in tests.
"""

from __future__ import annotations

import datetime as dt


class Lookups:
    """Interface; see NullLookups for the offline behaviour."""

    def creation_date(self, domain: str) -> dt.datetime | None:
        return None

    def asn(self, ip: str) -> str | None:
        return None

    def rdns(self, ip: str) -> str | None:
        return None

    def close(self) -> None:
        pass


class NullLookups(Lookups):
    """No network at all."""
