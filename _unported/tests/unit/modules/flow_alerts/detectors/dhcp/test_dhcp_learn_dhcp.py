"""DhcpLearner: DHCP servers from dhcp.log."""

from __future__ import annotations

import pytest

from tests.harness import Pipeline, dhcp


@pytest.mark.parametrize(
    ("server", "learned"),
    [("192.168.1.1", True), ("", False), ("not-an-ip", False)],
)
def test_dhcp_server_learned(server, learned):
    pipe = Pipeline()
    assert pipe.feed(dhcp(daddr=server)) == []
    assert pipe.facts.is_dhcp_server("192.168.1.1") is learned
    assert pipe.errors() == {}
