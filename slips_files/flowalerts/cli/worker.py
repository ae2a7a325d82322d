"""``flowalerts worker``: one worker of distributed runs, on any machine.

It joins the runs that ``flowalerts run --redis URL`` producers start on the
same Redis (and key prefix), takes partitions by lease and runs the
detections on them (``flowalerts.hosts.distributed.worker``). Start as many as you like, where
you like; they share the partitions. SIGINT/SIGTERM: the worker checkpoints
its partitions, hands them back and exits.
"""

from __future__ import annotations

import argparse
import os
import sys

from flowalerts.cli.common import add_config_argument, stderr_emit
from flowalerts.core.config import Config
from flowalerts.core.evidence import escape_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "worker",
        help="run the detections of distributed runs ('flowalerts run --redis URL') on this machine",
        description="Serve the partitions of distributed runs on a Redis/Valkey (see 'flowalerts run --redis').",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="the Redis/Valkey of the runs (default: $FLOWALERTS_REDIS_URL, else redis.url of the config)",
    )
    add_config_argument(parser)
    parser.add_argument("--prefix", default=None, help="key prefix of the runs (default: redis.key_prefix of the config)")
    parser.add_argument("--run", default=None, metavar="RUN_ID", help="serve only this run, and exit when it ends")
    parser.add_argument(
        "--exit-when-done",
        action="store_true",
        help="exit when no run is left (default: keep waiting for new runs until SIGINT/SIGTERM)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print warnings only")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace, config: Config) -> int:
    import redis

    from flowalerts.core.urls import RedisUrlError, check_redis_url
    from flowalerts.core.urls import redact as redact_text
    from flowalerts.core.urls import redact_url as redact
    from flowalerts.hosts.distributed.producer import DATA_DIR_ENV, ERROR_FILE_ENV, LOCAL_ENV, URL_ENV
    from flowalerts.hosts.distributed.streams import BusError
    from flowalerts.hosts.distributed.worker import Worker, install_stop_handlers

    url = args.redis or os.environ.get(URL_ENV) or config.redis.url
    # A local worker of a producer: the producer prints the run's one error line.
    local = os.environ.get(LOCAL_ENV) == "1"
    if not url:
        print("flowalerts: error: no Redis: give --redis URL (or set redis.url in the config)", file=sys.stderr)
        return 2
    try:
        check_redis_url(url)
    except RedisUrlError as exc:
        print(f"flowalerts: error: {exc}", file=sys.stderr)
        return 2
    try:
        worker = Worker(
            url,
            args.prefix or config.redis.key_prefix,
            run_id=args.run,
            until_done=args.exit_when_done,
            reconnect_seconds=config.redis.reconnect_seconds,
            emit=stderr_emit,
            base_dir=os.environ.get(DATA_DIR_ENV) or config.base_dir,
            local=local,
        )
    except BusError as exc:
        print(f"flowalerts: error: {escape_text(str(exc))}", file=sys.stderr)
        return 2
    install_stop_handlers(worker.stop)
    if not args.quiet:
        stderr_emit(f"worker {worker.name} serving {'run ' + args.run if args.run else 'every run'} on {redact(url)}")
    try:
        code = worker.serve()
    except (BusError, redis.RedisError) as exc:
        # Redis failed mid-run (unreachable, refused a write under noeviction,
        # lost data): one line, no traceback.
        message = escape_text(redact_text(str(exc)))
        if not local:
            print(f"flowalerts: error: {message}", file=sys.stderr)
        elif os.environ.get(ERROR_FILE_ENV):
            try:
                with open(os.environ[ERROR_FILE_ENV], "w", encoding="utf-8") as file:
                    file.write(message[:2000] + "\n")
            except OSError:
                pass
        return 1
    if not args.quiet:
        stats = worker.stats
        stderr_emit(
            f"worker {worker.name} done: {stats['batches']} batches, {stats['evidence']} evidence, "
            f"{stats['checkpoints']} checkpoints, {stats['restored']} partitions restored from a checkpoint"
        )
    return code
