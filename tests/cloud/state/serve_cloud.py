"""A local cloud with durable state, in a process of its own, for the tests that kill it.

    python tests/cloud/state/serve_cloud.py STATE_DIR [--fresh]

It assembles the cloud as ``gear up`` does (``StandardServices``: Lambda runtime and API,
CloudFormation; then ``LocalCloud(state_dir=…, fresh=…)``, which restores the state when it
starts serving) on an
ephemeral 127.0.0.1 port, prints one JSON line — endpoint, pid, what the restore found — and
serves until it is killed, or until its standard input closes (the test that started it is gone),
or on SIGTERM, then stops cleanly (a last snapshot).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from basegear.cloud.server import LocalCloud, StandardServices
from basegear.errors import GearError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="gear-lambda-") as cache:
        cloud = LocalCloud(port=0, state_dir=args.state_dir, fresh=args.fresh)
        services = StandardServices(cloud.endpoint_url, cache_dir=Path(cache))
        services.attach(cloud)  # before the cloud starts: the journal is replayed through them
        services.start()
        try:
            cloud.start()
        except GearError as error:  # as the CLI shows it
            print(f"error: {error.message}\nhint: {error.hint}", file=sys.stderr)
            services.close()
            raise SystemExit(1) from None
        try:
            restored = cloud.state.restored if cloud.state else None
            line = {
                "endpoint": cloud.endpoint_url,
                "restored": dataclasses.asdict(restored) if restored else None,
            }
            print(json.dumps(line), flush=True)
            stop.wait()
        finally:
            services.close()
            cloud.stop()


def _watch_stdin(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


if __name__ == "__main__":
    main()
