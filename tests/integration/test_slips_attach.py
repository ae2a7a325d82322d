"""Attach mode on a real Redis (a private redis-server per test): evidence is
stored where and as Slips's evidence handler takes it, updates are not counted
twice, it waits for Redis, survives lost connections and says what may be
lost, ends cleanly when Redis is gone, never prints a password, and hostile
messages do not stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from flowalerts.core.urls import redact_url
from flowalerts.hosts.slips.attach import AttachOptions, UsageError, run_attach
from flowalerts.hosts.slips.encode import slips_uuid
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.ports import PortRegistry
from tests.harness import config
from tests.slips_support import REPO, PrivateRedis, conn_flow, dns_flow, message, publish_like_slips, tw_closed

pytestmark = pytest.mark.integration

CLIENT, SERVER = "10.0.0.5", "93.184.216.34"
T = 1_600_000_000.0
KEY = f"profile_{CLIENT}_timewindow1_evidence"


# Every detection runs: the inputs are what the tests mean and nothing else.
# The server was resolved first (no connection without DNS) and 8080/tcp is
# a known service (the shipped services.csv: no unknown port).


def attempt(n: int, twid: int = 1) -> str:
    return message(conn_flow(uid=f"C{n}", starttime=T + n, saddr=CLIENT, daddr=SERVER, dport=8080), profile=CLIENT,
                   twid=f"timewindow{twid}")


def resolve(client) -> None:
    publish_like_slips(client, "new_dns", message(dns_flow(starttime=T, answers=[SERVER]), profile=CLIENT))


def established(ts: float, twid: int) -> str:
    """A short, successful connection to the resolved server: moves flow time, reports nothing."""
    flow = conn_flow(uid=f"E{ts}", starttime=ts, saddr=CLIENT, daddr=SERVER, dport=8080, state="SF",
                     history="ShADadFf", spkts=6, dpkts=6, sbytes=500, dbytes=900)
    return message(flow, profile=CLIENT, twid=f"timewindow{twid}")


def knowledge() -> Knowledge:
    known = Knowledge.empty()
    known.ports = PortRegistry.load_default()
    return known


@pytest.fixture
def server():
    redis_server = PrivateRedis().start()
    yield redis_server
    redis_server.stop()


def wait_until(predicate, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Attached:
    """run_attach in a thread, with its printed lines."""

    def __init__(self, url: str, tmp_path, **kw) -> None:
        self.lines: list[str] = []
        self.stop = threading.Event()
        self.result = None
        self.error: BaseException | None = None
        self.options = AttachOptions(
            redis_url=url,
            config=config(),
            outdir=str(tmp_path / "out"),
            knowledge=knowledge(),
            emit=self.lines.append,
            poll_seconds=0.02,
            **{"wait_seconds": 10.0, "reconnect_seconds": 5.0, "progress_every": 0.3, "ready_key": None, **kw},
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.result = run_attach(self.options, self.stop)
        except BaseException as exc:
            self.error = exc

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def wait_for(self, text: str, timeout: float = 10.0) -> None:
        wait_until(lambda: self.said(text), timeout, repr(text) + f" in {self.lines}")

    def finish(self, timeout: float = 20.0):
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


def test_evidence_is_stored_where_slips_reads_it_before_it_is_published(server, tmp_path):
    client = server.client()
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("evidence_added")
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    resolve(client)
    for n in range(1, 6):
        publish_like_slips(client, "new_flow", attempt(n))
    received = None
    deadline = time.monotonic() + 10
    while received is None and time.monotonic() < deadline:
        item = listener.get_message(timeout=0.1)
        if item is not None:
            received = json.loads(item["data"])
            # Stored (hash, uids, counter) before it was published.
            stored_then = client.hexists(KEY, received["id"])
    assert received is not None and stored_then
    stored = json.loads(client.hget(KEY, received["id"]))
    assert received == {**stored, "version": "1.1.21"}  # Slips's evidence handler checks the version
    assert received["evidence_type"] == "MULTIPLE_RECONNECTION_ATTEMPTS"
    assert isinstance(received["victim"]["AS"], (dict, type(None)))
    assert json.loads(client.hget("flows_causing_evidence", received["id"])) == stored["uid"]
    assert 0 < client.ttl("flows_causing_evidence") <= 7200
    assert int(client.get("number_of_evidence")) == 1
    result = run.finish()
    assert result.status == 0 and result.attached
    assert result.host.delivery.delivered["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1
    assert result.possibly_lost == 0
    lines = (tmp_path / "out" / "alerts.json").read_text().splitlines()
    assert [json.loads(line)["evidence_type"] for line in lines] == ["MULTIPLE_RECONNECTION_ATTEMPTS"]


def test_an_update_of_the_same_id_rewrites_in_place_and_is_not_counted_twice(server, tmp_path):
    client = server.client()
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("evidence_added")
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    resolve(client)
    for n in range(1, 8):
        publish_like_slips(client, "new_flow", attempt(n))
    # Slips closes window 1 once its flow time is a window width past the
    # window's last record; our driver settles it 300 s of flow time later
    # (close_delay), which the next record of window 2 passes.
    publish_like_slips(client, "new_flow", established(T + 3607, 2))
    publish_like_slips(client, "tw_closed", tw_closed(CLIENT, 1))
    publish_like_slips(client, "new_flow", established(T + 3907, 2))
    wait_until(lambda: len(json.loads(next(iter(client.hvals(KEY)), b"{}")).get("uid", [])) == 7, what="the update")
    result = run.finish()
    published = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # (get_message also returns None for the subscription reply)
        item = listener.get_message(timeout=0.1)
        if item is not None:
            published.append(json.loads(item["data"]))
    assert len(published) == 1 and len(published[0]["uid"]) == 5  # published once, at the threshold
    (stored,) = [json.loads(v) for v in client.hvals(KEY)]
    assert stored["id"] == published[0]["id"]
    assert len(stored["uid"]) == 7 and stored["description"].startswith("7 failed")
    assert int(client.get("number_of_evidence")) == 1
    assert result.host.delivery.updated["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1


def test_when_slips_input_is_complete_it_settles_at_once_after_every_record_published_before(server, tmp_path):
    client = server.client()
    client.set("will_slips_have_more_flows", "yes")  # what Slips sets when its DB starts
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    resolve(client)
    pipe = client.pipeline(transaction=False)
    for n in range(1, 8):
        publish_like_slips(pipe, "new_flow", attempt(n))
    pipe.set("will_slips_have_more_flows", "no")  # Slips's profiler: every record published
    pipe.execute()
    run.wait_for("Slips's input is complete")
    # Settled while Slips runs: the update with all 7 attempts, stored in place.
    wait_until(lambda: len(json.loads(next(iter(client.hvals(KEY)), b"{}")).get("uid", [])) == 7, what="the update")
    publish_like_slips(client, "tw_closed", tw_closed(CLIENT, 1))  # Slips's shutdown: already settled
    time.sleep(0.2)
    result = run.finish()
    assert result.host.input_ended and result.host.windows_closed == 1
    assert result.host.delivery.delivered["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1
    assert result.host.delivery.updated["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1
    assert sum(result.host.produced.values()) == 2


def test_it_settles_once_slips_profiler_processed_every_flow_of_its_input_and_all_is_quiet(server, tmp_path, monkeypatch):
    monkeypatch.setattr("flowalerts.hosts.slips.host.QUIET_SECONDS", 0.5)
    client = server.client()
    client.set("will_slips_have_more_flows", "yes")
    client.hset("analysis", "total_flows", 8)
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    resolve(client)
    for n in range(1, 8):
        publish_like_slips(client, "new_flow", attempt(n))
        client.incr("processed_flows_by_profiler_so_far")
    time.sleep(1.0)
    assert not run.said("Slips's input is complete")  # 7 of 8
    client.incr("processed_flows_by_profiler_so_far")  # e.g. a line of a log we do not read
    run.wait_for("Slips's input is complete (Slips's profiler processed 8 flows of the 8 its input counted")
    wait_until(lambda: len(json.loads(next(iter(client.hvals(KEY)), b"{}")).get("uid", [])) == 7, what="the update")
    result = run.finish()
    assert result.host.input_ended and result.host.delivery.updated["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1


def test_ids_slips_whitelisted_or_already_has_are_not_written_again(server, tmp_path):
    client = server.client()
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    resolve(client)
    for n in range(1, 7):
        publish_like_slips(client, "new_flow", attempt(n))
    wait_until(lambda: client.exists(KEY), what="evidence")
    (ident,) = [i.decode() for i in client.hkeys(KEY)]
    # Slips's evidence handler whitelisted it: deleted from the hash, id remembered.
    client.hdel(KEY, ident)
    client.sadd("whitelisted_evidence", ident)
    publish_like_slips(client, "tw_closed", tw_closed(CLIENT, 1))
    time.sleep(0.3)
    result = run.finish()  # the delayed close happens at the end: the update (6 attempts) is due
    assert not client.exists(KEY)
    assert result.host.delivery.update_not_stored["MULTIPLE_RECONNECTION_ATTEMPTS"] == 1
    assert int(client.get("number_of_evidence")) == 1
    assert ident == slips_uuid(result.host.driver.by_id["reconnection_attempts"].tally_id(
        result.host.driver.by_id["reconnection_attempts"].evidence[0], CLIENT, 1, (SERVER, 8080)))


def test_waits_for_redis_and_says_attached_only_once_connected(tmp_path):
    later = PrivateRedis()
    run = Attached(later.url, tmp_path, wait_seconds=30.0)
    run.wait_for("still waiting")
    assert run.said("waiting for Slips's Redis") and not run.said("attached")
    later.start()
    try:
        run.wait_for("attached")
        publish_like_slips(later.client(), "new_flow", attempt(1))
        wait_until(lambda: run.said("attached"))
        result = run.finish()
        assert result.attached
    finally:
        later.stop()


def commands_processed(client) -> int:
    """Commands the server processed, not counting this INFO itself."""
    return client.info("stats")["total_commands_processed"]


def test_subscribes_only_once_slips_has_set_up_its_db(server, tmp_path):
    client = server.client()
    client.ping()
    before = commands_processed(client)
    run = Attached(server.url, tmp_path, ready_key="number_of_evidence", quiet_start=1.5)
    run.wait_for("still waiting for Slips to start")
    time.sleep(0.5)
    # Slips checks its fresh Redis for commands of other clients for a second
    # right after it started it (more than two: it stops): none of ours then.
    assert commands_processed(client) - before == 1  # our own INFO above
    run.wait_for("still waiting for Slips to set up its DB")
    start = commands_processed(client)
    time.sleep(2.0)
    # Then at most one command a second (and nothing on connecting: no HELLO, no CLIENT SETINFO).
    during = commands_processed(client) - start - 1
    assert not run.said("attached") and during <= 2, during
    client.set("number_of_evidence", 0)  # what Slips does once its DB is ready
    run.wait_for("attached")
    assert run.finish().attached


def test_no_redis_within_the_wait_is_one_error_without_the_password(tmp_path):
    nowhere = PrivateRedis()
    url = f"redis://:hunter2secret@127.0.0.1:{nowhere.port}/0"
    run = Attached(url, tmp_path, wait_seconds=0.5)
    run.thread.join(10)
    assert isinstance(run.error, UsageError)
    assert "hunter2secret" not in str(run.error) and "***" in str(run.error)
    assert all("hunter2secret" not in line for line in run.lines)


def test_a_message_redis_drops_us_for_is_reported_as_lost_and_attach_goes_on(tmp_path):
    # Redis disconnects a subscriber whose output buffer passes the limit (a 50 MB
    # message with Redis's defaults; 2 MB against 256 KB here).
    small = PrivateRedis("--client-output-buffer-limit", "pubsub 256kb 128kb 60").start()
    try:
        client = small.client()
        run = Attached(small.url, tmp_path)
        run.wait_for("attached")
        publish_like_slips(client, "new_flow", "x" * (2 << 20))
        run.wait_for("reconnected")
        assert run.said("1 messages published meanwhile may be lost")
        for n in range(1, 6):
            publish_like_slips(client, "new_flow", attempt(n))
        wait_until(lambda: client.exists(KEY), what="evidence after the reconnection")
        result = run.finish()
        assert result.reconnects == 1 and result.possibly_lost == 1
        assert "1 messages possibly lost" in result.summary
    finally:
        small.stop()


def test_a_redis_restart_is_survived(server, tmp_path):
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    server.stop()
    run.wait_for("lost the connection")
    time.sleep(0.5)
    server.start()
    run.wait_for("reconnected")
    client = server.client()
    for n in range(1, 6):
        publish_like_slips(client, "new_flow", attempt(n))
    wait_until(lambda: client.exists(KEY), what="evidence after the restart")
    result = run.finish()
    assert result.status == 0 and result.reconnects == 1


def test_when_redis_is_gone_for_good_it_settles_reports_and_ends_ok(server, tmp_path):
    client = server.client()
    run = Attached(server.url, tmp_path, reconnect_seconds=1.0)
    run.wait_for("attached")
    resolve(client)
    for n in range(1, 8):
        publish_like_slips(client, "new_flow", attempt(n))
    wait_until(lambda: client.exists(KEY), what="evidence")
    server.stop()  # what Slips does at the end of its analysis
    run.wait_for("taking it as the end")
    run.thread.join(15)
    result = run.result
    assert run.error is None and result.status == 0
    # The window Slips never closed settled at the end: the update could not be
    # stored (Redis gone), it is reported and written to -o.
    assert result.host.delivery.pending == 1
    assert "1 not stored" in result.summary
    lines = [json.loads(line) for line in (tmp_path / "out" / "alerts.json").read_text().splitlines()]
    assert [line["details"]["attempts"] for line in lines] == [5, 7]


def test_hostile_messages_are_counted_and_attach_goes_on(server, tmp_path):
    client = server.client()
    run = Attached(server.url, tmp_path)
    run.wait_for("attached")
    for data in (
        "[" * 100_000,
        message(conn_flow(), profile=CLIENT, twid="timewindow-1"),
        message(conn_flow(), profile="x"),
        message(conn_flow(sbytes=1e30), profile=CLIENT),
        message(conn_flow(sbytes=-10), profile=CLIENT),
        "\x00\xff" * 10,
    ):
        publish_like_slips(client, "new_flow", data)
    for n in range(1, 6):
        publish_like_slips(client, "new_flow", attempt(n))
    wait_until(lambda: client.exists(KEY), what="evidence after the hostile messages")
    result = run.finish()
    assert result.host.decoder.stats.total_rejected == 6
    assert [k.decode() for k in client.keys("profile_*")] == [KEY]
    assert any("rejected on new_flow, field twid: 1" in line for line in result.lines)


# --- the command itself (subprocess): SIGTERM, exit status, passwords ---------------------------------


def start_cli(url: str, *args: str) -> tuple[subprocess.Popen, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "flowalerts", "module", "--redis", url, "--offline", "--ready-key", "", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO),
    )
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(process.stderr), daemon=True)
    reader.start()
    process.stderr_reader = reader  # joined by finish_cli
    return process, err


def finish_cli(process: subprocess.Popen) -> str:
    """Its stdout and whatever of stderr the reader thread did not take."""
    out, rest = process.communicate(timeout=30)
    process.stderr_reader.join(10)
    return out + (rest or "")


def test_cli_sigterm_settles_and_exits_zero_with_a_one_line_summary(tmp_path):
    guarded = PrivateRedis("--requirepass", "pa55-w0rd-x").start()
    try:
        url = f"redis://:pa55-w0rd-x@127.0.0.1:{guarded.port}/0"
        process, err = start_cli(url, "-o", str(tmp_path / "out"))
        wait_until(lambda: any("attached" in line for line in err), 20, "attached")
        client = guarded.client()
        resolve(client)
        for n in range(1, 8):
            publish_like_slips(client, "new_flow", attempt(n))
        wait_until(lambda: client.exists(KEY), what="evidence")
        process.send_signal(signal.SIGTERM)
        out = finish_cli(process)
        assert process.returncode == 0
        (last,) = [line for line in out.splitlines() if line.startswith("flowalerts module:")]
        assert last.startswith("flowalerts module: 8 messages (0 rejected), 2 evidence (1 stored in Slips, 1 updates")
        everything = out + "".join(err)
        assert "pa55-w0rd-x" not in everything and "redis://:***@127.0.0.1" in everything
    finally:
        guarded.stop()


@pytest.mark.parametrize("password_in_url", ["redis://:wr0ng-pa55@127.0.0.1:{port}/0", "redis://user:wr0ng-pa55@127.0.0.1:{port}/0"])
def test_cli_errors_never_print_the_password(tmp_path, password_in_url):
    guarded = PrivateRedis("--requirepass", "r1ght-pa55").start()
    try:
        process, err = start_cli(password_in_url.format(port=guarded.port), "--wait", "2")
        out = finish_cli(process)
        assert process.returncode == 2
        everything = out + "".join(err)
        assert "wr0ng-pa55" not in everything and "***" in everything
        assert "refused us" in everything
    finally:
        guarded.stop()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://me:s3cret@[::1]:6379/2", "redis://me:***@[::1]:6379/2"),
        ("redis://s3cret@host/0", "redis://***@host/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("rediss://:s3cret@host", "rediss://:***@host"),
    ],
)
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def test_a_burst_that_gets_a_stalled_subscriber_dropped_is_counted_as_lost(tmp_path):
    """Redis drops a subscriber that falls behind (its output buffer passes the
    pub/sub limit): the process reconnects, goes on, and says how many messages
    Slips published that it never received."""
    small = PrivateRedis("--client-output-buffer-limit", "pubsub 256kb 128kb 60").start()
    try:
        process, err = start_cli(small.url, "--reconnect", "20")
        wait_until(lambda: any("attached" in line for line in err), 20, "attached")
        client = small.client()
        process.send_signal(signal.SIGSTOP)  # a slow consumer
        burst = message(conn_flow(uid="B", starttime=T, saddr=CLIENT, daddr=SERVER, history="S" * 400), profile=CLIENT)
        # More than the kernel's socket buffers take, so Redis's own buffer for us fills.
        for _ in range(20):
            pipe = client.pipeline(transaction=False)
            for _ in range(1000):
                publish_like_slips(pipe, "new_flow", burst)
            pipe.execute()
        wait_until(lambda: all(int(c.get("sub", 0)) == 0 for c in client.client_list()), 10, "Redis dropping the subscriber")
        process.send_signal(signal.SIGCONT)
        wait_until(lambda: any("reconnected" in line for line in err), 20, "reconnected")
        for n in range(1, 6):
            publish_like_slips(client, "new_flow", attempt(n))
        wait_until(lambda: client.exists(KEY), what="evidence after the reconnection")
        process.send_signal(signal.SIGTERM)
        out = finish_cli(process)
        assert process.returncode == 0
        (line,) = [line for line in err if "reconnected" in line]
        lost = int(line.split("; ")[1].split()[0])
        assert 0 < lost <= 20_000
        (summary,) = [line for line in out.splitlines() if line.startswith("flowalerts module:")]
        # The end-of-run figure uses the counters read last (estimates: in-flight messages blur them).
        final = int(summary.split("reconnections, ")[1].split()[0])
        assert "1 reconnections" in summary and lost <= final <= lost + 10
    finally:
        small.stop()
