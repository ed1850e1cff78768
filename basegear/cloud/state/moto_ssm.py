"""moto's SSM (``moto/ssm/models.py``) as durable state needs it, two things pickle cannot do:

- the backend's ``_resource_tags`` is a ``defaultdict`` whose factory is a lambda local to
  ``SimpleSystemManagerBackend.__init__`` (a ``defaultdict(dict)`` per resource type): it is saved
  with the equivalent :func:`_tags_by_resource`;
- the parameters live in a ``ParameterDict``, a ``defaultdict(list)`` subclass whose ``__init__``
  takes an account and a region: it is saved and rebuilt without calling ``__init__``."""

from __future__ import annotations

from collections import defaultdict

from basegear.cloud.state.pickling import BY_NAME, FACTORIES, reduce_dict_subclass

PATCHED: tuple[tuple[str, str], ...] = ()
READ = (
    ("moto.ssm.models.SimpleSystemManagerBackend", "_resource_tags"),
    ("moto.ssm.models", "ParameterDict"),
)

TAGS_FACTORY = "SimpleSystemManagerBackend.__init__.<locals>.<lambda>"


def _tags_by_resource() -> defaultdict[str, dict[str, str]]:
    return defaultdict(dict)


FACTORIES[TAGS_FACTORY] = _tags_by_resource
BY_NAME[("moto.ssm.models", "ParameterDict")] = reduce_dict_subclass
