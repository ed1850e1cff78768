"""Shared helpers for the benchmarks: time whole processes, as a user runs them."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "algorithms"
GEAR = ROOT / ".venv" / "bin" / "gear"
SLS = EXAMPLE / "node_modules" / ".bin" / "sls"


@dataclass(frozen=True)
class Timing:
    label: str
    seconds: list[float]
    peak_rss_mb: float

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def row(self) -> str:
        return (
            f"| {self.label} | {self.median:.3f} s | {min(self.seconds):.3f} s | "
            f"{max(self.seconds):.3f} s | {self.peak_rss_mb:.0f} MB |"
        )


def run_once(
    command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one run of ``command`` (``env`` is added
    to this process's environment)."""
    environment = {**os.environ, **env} if env else None
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024


def measure(
    label: str,
    command: Sequence[str],
    cwd: Path,
    runs: int,
    env: Mapping[str, str] | None = None,
) -> Timing:
    run_once(command, cwd, env)  # warm the file-system cache and any bytecode caches
    results = [run_once(command, cwd, env) for _ in range(runs)]
    return Timing(label, [seconds for seconds, _ in results], max(rss for _, rss in results))


def table(timings: Sequence[Timing]) -> str:
    lines = ["| command | median | min | max | peak memory |", "|---|---|---|---|---|"]
    lines += [timing.row() for timing in timings]
    if len(timings) == 2:
        ratio = timings[1].median / timings[0].median
        lines.append(f"\n{timings[0].label} is {ratio:.1f} times faster than {timings[1].label}.")
    return "\n".join(lines)


def report(timings: Sequence[Timing], runs: int) -> None:
    """The table, under a line saying how many runs on which Python."""
    print(f"{runs} runs each, {platform.python_implementation()} {platform.python_version()}\n")
    print(table(timings))
