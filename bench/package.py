"""Time ``gear package --stage prod`` on examples/algorithms as a whole process, with a warm
requirements cache (the first, unmeasured run fills it).

When the Serverless Framework v3 is installed beside the example (``npm ci`` in
examples/algorithms), ``sls package --stage prod`` runs in the same session for comparison, on a
copy of the example in ``warn`` validation mode (see bench/config_load.py). The framework asks
CloudFormation for the stack's outputs while it compiles layers (describeStacks, in
lib/plugins/aws/package/compile/layers.js) and fails without an answer, so its AWS requests go
through a proxy on 127.0.0.1 that answers every one "Stack with id … does not exist", as AWS
answers for a stack not deployed yet; nothing leaves the machine, and the dummy credentials
never reach AWS.

    .venv/bin/python bench/package.py [--runs N]
"""

from __future__ import annotations

import argparse
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _run import EXAMPLE, GEAR, SLS, Timing, measure, report
from config_load import sls_copy

_NO_STACK = (
    b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
    b"<Type>Sender</Type><Code>ValidationError</Code>"
    b"<Message>Stack with id algorithms-prod does not exist</Message></Error>"
    b"<RequestId>bench</RequestId></ErrorResponse>"
)


class _NoStackProxy(socketserver.StreamRequestHandler):
    """Answers the proxy request itself: the framework's proxy agent hands a non-200 answer to
    the AWS SDK as the response, which reads it as CloudFormation's ValidationError."""

    def handle(self) -> None:
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        self.wfile.write(
            b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml\r\n"
            + f"Content-Length: {len(_NO_STACK)}\r\nConnection: close\r\n\r\n".encode()
            + _NO_STACK
        )


@contextmanager
def no_stack_proxy() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NoStackProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs

    timings: list[Timing] = []
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "gear-out"
        command = [str(GEAR), "package", "--stage", "prod", "--out", str(out)]
        timings.append(measure("gear package --stage prod", command, EXAMPLE, runs))
        if SLS.exists():
            copy = sls_copy(Path(workdir))
            with no_stack_proxy() as proxy:
                # The framework takes the first of these that is set.
                proxies = ("proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")
                env = {
                    **dict.fromkeys(proxies, proxy),
                    "AWS_ACCESS_KEY_ID": "bench",
                    "AWS_SECRET_ACCESS_KEY": "bench",
                    "SLS_TELEMETRY_DISABLED": "1",
                    "SLS_NOTIFICATIONS_MODE": "off",
                }
                command = [str(SLS), "package", "--stage", "prod"]
                timings.append(measure("sls package --stage prod", command, copy, runs, env))
        else:
            print(f"(no Serverless Framework at {SLS} to compare with: `npm ci` installs it)\n")
    report(timings, runs)


if __name__ == "__main__":
    main()
