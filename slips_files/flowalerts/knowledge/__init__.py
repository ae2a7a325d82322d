"""Read-only knowledge: organisations, ports, threat feeds, whitelist.

Loaded once at start into in-memory structures built for the lookup (DESIGN
rule 4): sorted ranges for CIDRs, sets for ASNs and hashes, suffix-aware
domain matching. Detections reach it as ``self.knowledge``. The submodules are imported
when the data is loaded (``flowalerts.core.ips`` stays import-light).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowalerts.core.config import Config
    from flowalerts.knowledge.feeds import ThreatFeeds
    from flowalerts.knowledge.orgs import Organizations
    from flowalerts.knowledge.ports import PortRegistry
    from flowalerts.knowledge.whitelist import Whitelist


@dataclasses.dataclass
class Knowledge:
    orgs: Organizations
    ports: PortRegistry
    feeds: ThreatFeeds
    whitelist: Whitelist

    @classmethod
    def empty(cls) -> Knowledge:
        """No data at all: every lookup misses. For unit tests."""
        from flowalerts.knowledge.feeds import ThreatFeeds
        from flowalerts.knowledge.orgs import Organizations
        from flowalerts.knowledge.ports import PortRegistry
        from flowalerts.knowledge.whitelist import Whitelist

        return cls(
            orgs=Organizations.empty(),
            ports=PortRegistry.empty(),
            feeds=ThreatFeeds.empty(),
            whitelist=Whitelist.empty(),
        )

    @classmethod
    def load(cls, config: Config, notify=print) -> Knowledge:
        """The shipped data files plus the feed and whitelist files in config."""
        from flowalerts.knowledge.feeds import ThreatFeeds
        from flowalerts.knowledge.orgs import Organizations
        from flowalerts.knowledge.ports import PortRegistry
        from flowalerts.knowledge.whitelist import Whitelist

        orgs = Organizations.load_default()
        return cls(
            orgs=orgs,
            ports=PortRegistry.load_default(),
            feeds=ThreatFeeds.load(config, notify=notify),
            whitelist=Whitelist.load(config, notify=notify, orgs=orgs),
        )
