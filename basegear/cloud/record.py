"""The record of a running ``gear up``: ``.gear/cloud.json`` in the folder it was started from,
written once the cloud is ready and removed when it stops. ``gear status``, ``gear down`` and
``gear deploy``/``invoke``/``logs`` (for the endpoint) read it. A record whose process is gone
(``kill -9``, a reboot) is stale and read as no record."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

RECORD_FILE = Path(".gear") / "cloud.json"


@dataclass(frozen=True)
class CloudRecord:
    pid: int
    endpoint_url: str
    services: tuple[str, ...]  # the service folders deployed, in order
    state_dir: str | None
    regions: tuple[str, ...] = ()  # where their stacks are
    log_file: str | None = None  # where a detached cloud writes its output


def record_path(folder: Path) -> Path:
    return Path(folder) / RECORD_FILE


def read_record(folder: Path) -> CloudRecord | None:
    """The live cloud recorded in ``folder``, or None (no record, unreadable, or stale)."""
    try:
        data = json.loads(record_path(folder).read_text())
        record = CloudRecord(
            pid=int(data["pid"]),
            endpoint_url=str(data["endpoint_url"]),
            services=tuple(str(item) for item in data.get("services", ())),
            state_dir=data.get("state_dir"),
            regions=tuple(str(item) for item in data.get("regions", ())),
            log_file=data.get("log_file"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return record if process_alive(record.pid) else None


def write_record(folder: Path, record: CloudRecord) -> Path:
    """Write atomically: a reader sees the old record or the new one, never half of one."""
    path = record_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    staging.write_text(json.dumps(asdict(record), indent=2) + "\n")
    os.replace(staging, path)
    return path


def remove_record(folder: Path, pid: int) -> None:
    """Remove the record if it is the one ``pid`` wrote (a newer cloud may have replaced it)."""
    path = record_path(folder)
    try:
        if int(json.loads(path.read_text())["pid"]) == pid:
            path.unlink()
    except (OSError, ValueError, KeyError, TypeError):
        pass


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True
