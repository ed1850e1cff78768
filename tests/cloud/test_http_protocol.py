"""The gateway's HTTP protocol sends a response's head and body in one write: what is written
during one step of the event loop goes out together when the step ends, and a close sends what
is held first."""

from __future__ import annotations

import asyncio
import http.client

from basegear.cloud.http_protocol import JoinedWrites
from basegear.testing import CloudClients


class Recorded(asyncio.Transport):
    """A transport that keeps what it is asked to write, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


def test_writes_of_one_step_go_out_as_one() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes], list[bytes]]:
        recorded = Recorded()
        joined = JoinedWrites(recorded, asyncio.get_running_loop())
        joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
        joined.write(b"body")
        held = list(recorded.writes)
        await asyncio.sleep(0)  # the step ends
        first = list(recorded.writes)
        joined.write(b"last")
        joined.close()
        return held, first, recorded.writes

    held, first, final = asyncio.run(scenario())
    assert held == []
    assert first == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    assert final == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"last"]


def test_responses_still_arrive_whole_on_a_kept_alive_connection(
    local_cloud: CloudClients,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_cloud.cloud.port, timeout=10)
    for _ in range(3):
        connection.request("GET", "/_gear/clock")
        response = connection.getresponse()
        assert response.status == 200 and response.read()
    connection.close()
