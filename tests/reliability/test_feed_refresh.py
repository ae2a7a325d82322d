"""``flowalerts update-feeds`` against hostile servers (issue 16): a total
time limit (a server dripping a byte at a time is cut off), a size cap, and
the last good copy kept whatever goes wrong. Only a local server is used."""

from __future__ import annotations

import http.server
import shutil
import threading
import time

import pytest

from flowalerts.cli.main import main
from flowalerts.core.config import Config, ThreatIntelligence
from flowalerts.knowledge.feeds import ThreatFeeds, refresh_feeds
from flowalerts.knowledge.fetch import FetchError, fetch
from tests.reliability.support import REPO

FEEDS = REPO / "slips_files" / "flowalerts" / "data" / "feeds"
GOOD_TOR = b"185.220.101.1\n185.220.101.2\n"
GOOD_JA3 = b"# ja3_md5,Firstseen,Lastseen,Listingreason\n3b5074b1b5d032e5620f69f9f700ff0e,a,b,Dridex\n"
GOOD_SSL = b"# Listingdate,SHA1,Listingreason\n2024-04-30,5fcb5b5f6e5fd1d2a0a5e9b0c7c2f3f87b9d4e21,QakBot\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes]] = {}
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path
        if path == "/drip":  # a valid start, then one byte every 0.1 s, forever
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            for byte in (GOOD_TOR * 100000)[:600]:
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
            return
        if path == "/drip-headers":  # never finishes its headers
            for _ in range(600):
                try:
                    self.wfile.write(b"X" if _ else b"HTTP/1.1 200 OK\r\nX-Slow: ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)
            return
        if path == "/huge-announced":
            self.send_response(200)
            self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            self.wfile.write(GOOD_TOR)
            return
        if path == "/huge-chunked":  # no length: stream more than the cap
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = GOOD_TOR * 4096
            try:
                for _ in range(200):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                return
            return
        if path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/redirect-loop" if path == "/redirect-loop" else "/tor.txt")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = self.routes.get(path, (404, b"not found"))
        if status == 0:  # drop the connection without an answer
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    _Handler.routes = {
        "/ja3.csv": (200, GOOD_JA3),
        "/ssl.csv": (200, GOOD_SSL),
        "/tor.txt": (200, GOOD_TOR),
        "/html": (200, b"<html><body>maintenance</body></html>"),
        "/error": (500, b"3b5074b1b5d032e5620f69f9f700ff0e,x\n"),
        "/drop": (0, b""),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _config(tmp_path, base, ja3="/ja3.csv", ssl="/ssl.csv", tor="/tor.txt", timeout=5.0, max_bytes=1 << 20):
    shutil.copytree(FEEDS, tmp_path / "feeds", dirs_exist_ok=True)
    config = Config(
        base_dir=str(tmp_path),
        threatintelligence=ThreatIntelligence(
            ja3_feed_url=base + ja3, ssl_feed_url=base + ssl, tor_exit_nodes_url=base + tor,
            download_timeout=timeout, download_max_bytes=max_bytes,
        ),
    )
    return config


def _files(tmp_path):
    return {p.name: p.read_bytes() for p in (tmp_path / "feeds").iterdir()}


def test_refresh_replaces_files_with_good_downloads(tmp_path, server):
    config = _config(tmp_path, server)
    notes: list[str] = []
    assert refresh_feeds(config, notify=notes.append) == {"JA3": True, "SSL": True, "Tor exit": True}
    assert (tmp_path / "feeds" / "tor_exit_nodes.txt").read_bytes() == GOOD_TOR
    loaded = ThreatFeeds.load(config, notify=pytest.fail)
    assert "3b5074b1b5d032e5620f69f9f700ff0e" in loaded.ja3
    assert loaded.tor_exits == frozenset({"185.220.101.1", "185.220.101.2"})
    assert sorted(_files(tmp_path)) == ["ja3_fingerprints.csv", "sslblacklist.csv", "tor_exit_nodes.txt"]


@pytest.mark.parametrize(
    ("ja3", "ssl", "tor"),
    [
        ("/html", "/html", "/html"),  # content that does not parse
        ("/error", "/error", "/error"),  # HTTP error, even with a parseable body
        ("/missing", "/missing", "/missing"),  # 404
        ("/drop", "/drop", "/drop"),  # connection closed without a response
        ("/tor.txt", "/ja3.csv", "/html"),  # feeds swapped: no entry of the right kind
        ("/huge-announced", "/huge-chunked", "/redirect-loop"),  # size cap, endless redirects
    ],
)
def test_refresh_keeps_the_last_good_copy(tmp_path, server, ja3, ssl, tor):
    config = _config(tmp_path, server, ja3=ja3, ssl=ssl, tor=tor)
    before = _files(tmp_path)
    notes: list[str] = []
    assert refresh_feeds(config, notify=notes.append) == {"JA3": False, "SSL": False, "Tor exit": False}
    assert _files(tmp_path) == before
    assert len(notes) == 3 and all("not refreshed" in n and "keeping" in n for n in notes)


def test_a_dripping_server_is_cut_off_at_the_total_time_limit(tmp_path, server, capsys):
    config = _config(tmp_path, server, ja3="/drip", ssl="/drip-headers", tor="/drip", timeout=1.0)
    before = _files(tmp_path)
    started = time.monotonic()
    notes: list[str] = []
    assert refresh_feeds(config, notify=notes.append) == {"JA3": False, "SSL": False, "Tor exit": False}
    elapsed = time.monotonic() - started
    assert elapsed < 3 * 1.0 + 1.0, elapsed  # three feeds, 1 s each at most
    assert _files(tmp_path) == before
    assert all("no complete answer within 1 s (total time limit)" in note for note in notes), notes


def test_update_feeds_command(tmp_path, server, capsys):
    config = _config(tmp_path, server, tor="/drip", timeout=1.0)
    path = tmp_path / "c.yaml"
    ti = config.threatintelligence
    path.write_text(
        f"threatintelligence:\n  ja3_feed_url: {ti.ja3_feed_url}\n  ssl_feed_url: {ti.ssl_feed_url}\n"
        f"  tor_exit_nodes_url: {ti.tor_exit_nodes_url}\n  download_timeout: 1\n"
    )
    before = (tmp_path / "feeds" / "tor_exit_nodes.txt").read_bytes()
    started = time.monotonic()
    assert main(["update-feeds", "-c", str(path)]) == 1  # one feed failed
    assert time.monotonic() - started < 4
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("JA3 feed refreshed from") and err[1].startswith("SSL feed refreshed from")
    assert err[2].startswith(f"Tor exit feed not refreshed from {server}/drip: no complete answer within 1 s")
    assert (tmp_path / "feeds" / "tor_exit_nodes.txt").read_bytes() == before


def test_fetch_follows_redirects_and_caps_size(server):
    assert fetch(server + "/redirect", timeout=5, max_bytes=1000) == GOOD_TOR
    with pytest.raises(FetchError, match="announces 28 bytes, more than the limit of 10"):
        fetch(server + "/tor.txt", timeout=5, max_bytes=10)
    with pytest.raises(FetchError, match="more than the limit of 1,000 bytes"):
        fetch(server + "/huge-chunked", timeout=5, max_bytes=1000)
    with pytest.raises(FetchError, match="announces 10,737,418,240 bytes"):
        fetch(server + "/huge-announced", timeout=5, max_bytes=1 << 20)
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(server + "/redirect-loop", timeout=5, max_bytes=1000)
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://x"):
        with pytest.raises(FetchError, match="unsupported URL"):
            fetch(url, timeout=1, max_bytes=10)


def test_refresh_unreachable_server_keeps_files(tmp_path):
    config = _config(tmp_path, "http://127.0.0.1:9")  # discard port: nothing listens
    before = _files(tmp_path)
    assert refresh_feeds(config, notify=None) == {"JA3": False, "SSL": False, "Tor exit": False}
    assert _files(tmp_path) == before


def test_refresh_does_nothing_offline(tmp_path, server):
    config = _config(tmp_path, server)
    config.lookups.enabled = False
    assert refresh_feeds(config, notify=pytest.fail) == {}


def test_update_feeds_says_why_nothing_was_refreshed(tmp_path, capsys):
    offline = tmp_path / "offline.yaml"
    offline.write_text("lookups:\n  enabled: false\n")
    assert main(["update-feeds", "-c", str(offline)]) == 2
    assert capsys.readouterr().err == (
        "flowalerts: error: network lookups are disabled (lookups.enabled: false): no feed refreshed\n")
    no_urls = tmp_path / "no-urls.yaml"
    no_urls.write_text("threatintelligence:\n  ja3_feed_url: ''\n  ssl_feed_url: ''\n  tor_exit_nodes_url: ''\n")
    assert main(["update-feeds", "-c", str(no_urls)]) == 1
    assert "no feed has a URL" in capsys.readouterr().err
