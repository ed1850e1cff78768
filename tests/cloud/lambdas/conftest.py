"""Fixtures for the Lambda runtime's tests: a runtime with in-memory sinks, function folders
written from source text, and a check that no worker process outlives its runtime. An
exception left unhandled in any thread (the runtime's, the gateway's, a test's) fails the test
that was running."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lambda_helpers import Tracked

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.telemetry import MemoryLogSink, MemoryMetricSink

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    strict = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(strict)


@pytest.fixture(scope="module")
def tracked() -> Iterator[Tracked]:
    logs, metrics = MemoryLogSink(), MemoryMetricSink()
    runtime = LambdaRuntime(log_sink=logs, metric_sink=metrics, endpoint_url="http://127.0.0.1:1")
    runtime.start()
    t = Tracked(runtime, logs, metrics)
    yield t
    t.close_and_check()


@pytest.fixture
def write_code(tmp_path: Path) -> Callable[..., Path]:
    """``write_code(source, name="handler.py", folder="code")`` → the folder."""

    def write(source: str, name: str = "handler.py", folder: str = "code") -> Path:
        target = tmp_path / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))
        return tmp_path / folder

    return write


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    return f"fn-{request.node.name[:40]}-{os.getpid()}".replace("[", "-").replace("]", "")
