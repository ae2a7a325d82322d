"""Test support for the TLS/notice/ssh/smtp/http/login/software/tunnel detectors:
a tiny Organizations fake (no data files) and a Pipeline limited to these families."""

from __future__ import annotations

import dataclasses

from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.orgs import Organizations
from flowalerts.modules.flow_alerts.module import FlowAlerts
from tests.harness import Pipeline

GOOGLE_IP = "142.250.1.1"
DOMAINS = {"google": ("google.com", "gstatic.com", "youtube.com"), "microsoft": ("microsoft.com", "bing.com")}
IPS = {GOOGLE_IP: "google", "204.79.197.200": "microsoft"}


class FakeOrgs(Organizations):
    """Overrides every lookup the detectors use, so it does not depend on the real data."""

    def org_of_ip(self, ip):
        return IPS.get(ip)

    def ip_in_org(self, ip, org):
        return IPS.get(ip) == org

    def domain_in_org(self, domain, org):
        return self.org_of_domain(domain) == org

    def org_of_domain(self, domain):
        domain = domain.lower().rstrip(".")
        for org, names in DOMAINS.items():
            if any(domain == n or domain.endswith("." + n) for n in names):
                return org
        return None

    def org_of_name(self, text):
        words = {w.strip(".,").lower() for w in text.split()}
        for org in DOMAINS:
            if org in words:
                return org
        return None


def knowledge_with_orgs() -> Knowledge:
    return dataclasses.replace(Knowledge.empty(), orgs=FakeOrgs())


# The detector families this test suite covers; other families (conn, dns ...)
# are other engineers' and are left out so their changes cannot break ours.
FAMILIES = ("tls", "notice", "ssh", "smtp", "http", "login", "files", "software", "tunnel")


def own_detector_classes():
    from flowalerts.modules.flow_alerts.module import load_detector_classes

    prefix = "flowalerts.modules.flow_alerts.detectors."
    return [cls for cls in load_detector_classes()
            if cls.__module__.startswith(prefix) and cls.__module__[len(prefix):].split(".")[0] in FAMILIES]


class OwnPipeline(Pipeline):
    """The harness Pipeline running only the detectors of FAMILIES."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.module = FlowAlerts(self.ctx, detector_classes=own_detector_classes())
