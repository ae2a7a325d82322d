"""device_ports.csv: service ports of common home and office devices (issue 13, UNKNOWN_PORT)."""

from __future__ import annotations

import pytest

from flowalerts.knowledge.ports import DATA_DIR, PortRegistry


@pytest.fixture(scope="module")
def shipped() -> PortRegistry:
    return PortRegistry.load_default()


def test_the_shipped_list_loads_without_bad_rows(shipped):
    assert shipped.bad_rows == 0
    assert (DATA_DIR / "device_ports.csv").is_file()


@pytest.mark.parametrize(
    ("port", "proto", "found"),
    [
        (8008, "tcp", True), (8009, "tcp", True), (8443, "tcp", True),  # Google Cast
        (7000, "tcp", True), (7100, "tcp", True),  # AirPlay
        (57621, "udp", True), (57621, "tcp", True),  # Spotify Connect
        (1400, "tcp", True),  # Sonos
        (9100, "tcp", True), (631, "tcp", True), (515, "tcp", True),  # printers
        (8009, "udp", False), (12345, "tcp", False),
        (8009, "TCP", True),  # the transport in any case
    ],
)
def test_device_service(shipped, port, proto, found):
    assert (shipped.device_service(port, proto) is not None) is found


def test_rows_are_checked(tmp_path):
    path = tmp_path / "devices.csv"
    path.write_text("# comment\nport,proto,service,devices\n8009,tcp,Cast,TVs\n70000,tcp,bad,x\nx,tcp,bad,x\n"
                    "9100,tcp\n631,udp,CUPS,printers\n")
    registry = PortRegistry.load_files(device_ports=path)
    assert registry.bad_rows == 3
    assert (registry.device_service(8009, "tcp"), registry.device_service(631, "udp")) == ("Cast", "CUPS")
    assert registry.device_service(8009, None) is None
