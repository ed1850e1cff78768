"""Durable state for the local cloud: acknowledged writes survive ``kill -9`` (docs/state.md).

    state = open_state(Path(".gear/state"), cloud.router, fresh=False)   # restore, then record
    ...                                                                  # serve
    state.close()                                                        # last snapshot

``LocalCloud(state_dir=…, fresh=…)`` does this itself when it starts and stops serving.

Modules, in the order a write meets them:

    recorder.py     which requests are recorded; a record per acknowledged write     gateway.py seam
    codec.py        the record format, checksummed frames
    journal.py      append + group commit (one fdatasync per batch) before the answer is sent
    durable.py      open / restore / snapshot / close                               files.py
    replay.py       the journal replayed on start
    pickling.py     snapshots: moto's backends and BaseGear's components, pickled
    moto_*.py       the moto internals relied on, one module per service (PATCHED / READ)
"""

from basegear.cloud.state.durable import (
    DurableState,
    Restored,
    Settings,
    default_state_dir,
    open_state,
)
from basegear.cloud.state.errors import StateError
from basegear.cloud.state.recorder import Persistent

__all__ = [
    "DurableState",
    "Persistent",
    "Restored",
    "Settings",
    "StateError",
    "default_state_dir",
    "open_state",
]
