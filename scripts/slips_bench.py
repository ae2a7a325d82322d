"""Throughput of the Slips hosts' shared code.

usage: python scripts/slips_bench.py [--redis redis://127.0.0.1:PORT/DB] [-n 50000]

* decoder and adapter (decode + module driver) over every message real Slips
  published on the shared datasets (``../shared/slips/traffic``), 5 passes;
* with ``--redis`` (a scratch server: its DB is flushed): attach mode end to
  end, ``-n`` conn messages published on ``new_flow`` as Slips would, timed
  until all are processed (a tenth of them give evidence, stored by the same
  script as in a real run).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowalerts.catalog import config_sections  # noqa: E402
from flowalerts.core.config import load_config  # noqa: E402
from flowalerts.hosts.slips.decode import SLIPS_RECORD_CHANNELS, SlipsDecoder  # noqa: E402
from flowalerts.hosts.slips.host import SlipsHost  # noqa: E402
from flowalerts.knowledge import Knowledge  # noqa: E402
from tests.slips_support import TRAFFIC, conn_flow, message  # noqa: E402


def recorded() -> list[tuple[str, str]]:
    out = []
    for path in sorted(TRAFFIC.rglob("pubsub.jsonl")):
        for line in path.read_text().splitlines():
            item = json.loads(line)
            out.append((item["channel"], item["data"]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default=None)
    parser.add_argument("-n", type=int, default=50_000)
    args = parser.parse_args()
    config, _ = load_config(None, sections=config_sections())
    messages = recorded()
    records = [(c, d) for c, d in messages if c in SLIPS_RECORD_CHANNELS]
    decoder = SlipsDecoder()
    started = time.perf_counter()
    for _ in range(5):
        for channel, data in records:
            decoder.decode(channel, data)
    elapsed = time.perf_counter() - started
    print(f"decoder: {5 * len(records)} record messages in {elapsed:.2f} s = {5 * len(records) / elapsed:,.0f}/s")
    host = SlipsHost(config, Knowledge.load(config, notify=lambda text: None))
    used = [(c, d) for c, d in messages if c in host.channels]
    started = time.perf_counter()
    for _ in range(5):
        for channel, data in used:
            host.on_message(channel, data)
    elapsed = time.perf_counter() - started
    print(f"adapter (decode + driver): {5 * len(used)} messages in {elapsed:.2f} s = {5 * len(used) / elapsed:,.0f}/s")
    if args.redis:
        import redis

        from flowalerts.hosts.slips.attach import Attachment, AttachOptions

        client = redis.Redis.from_url(args.redis)
        client.flushdb()
        stop = threading.Event()
        attachment = Attachment(AttachOptions(redis_url=args.redis, config=config, knowledge=Knowledge.empty(),
                                              emit=lambda text: None, ready_key=None), stop)
        assert attachment.wait_for_redis()
        thread = threading.Thread(target=attachment.run)
        thread.start()
        data = [message(conn_flow(uid=f"C{i}", starttime=1.6e9 + i * 0.01, dport=1000 + i % (args.n // 10)))
                for i in range(args.n)]
        started = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for i, item in enumerate(data):
            pipe.publish("new_flow", item)
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
        received = attachment.host.decoder.stats.received
        while received["new_flow"] < args.n and time.perf_counter() - started < 300:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        stop.set()
        thread.join()
        attachment.settle()
        print(f"attach: {received['new_flow']} messages in {elapsed:.1f} s = {received['new_flow'] / elapsed:,.0f}/s; "
              f"evidence stored {sum(attachment.host.delivery.delivered.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
