"""One botocore data loader for the whole process.

Every botocore session makes its own loader, and a loader reads each data file it is asked for
(``endpoints.json``, each service's ``service-2.json`` and endpoint rule set) once per loader.
``gear up`` has several sessions in one process (the deploy's, the CloudFormation provider's,
moto's, which reads a model per moto service to list its regions), so the same JSON was parsed
three times over: about 0.8 s of a 2.7 s start. The files do not change while the process runs,
so sessions made here share one loader and parse each file once.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_loader: Any = None


def shared_loader() -> Any:
    """The process's botocore ``Loader`` (made on first use, with botocore's search paths)."""
    global _loader
    with _lock:
        if _loader is None:
            from botocore.loaders import create_loader

            _loader = create_loader()
        return _loader


def share_loader(botocore_session: Any) -> None:
    """Make ``botocore_session`` read its data files through :func:`shared_loader`."""
    botocore_session.register_component("data_loader", shared_loader())


def boto3_session(botocore_session: Any = None, **kwargs: Any) -> Any:
    """A boto3 ``Session`` (``kwargs`` as boto3 takes them) whose data files come through
    :func:`shared_loader`."""
    import boto3
    from botocore.session import Session

    core = botocore_session if botocore_session is not None else Session()
    share_loader(core)
    session = boto3.session.Session(botocore_session=core, **kwargs)
    # boto3 adds its own data folder to the loader on every session: keep it once.
    paths = shared_loader().search_paths
    paths[:] = list(dict.fromkeys(paths))
    return session
