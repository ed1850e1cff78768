"""Durable state's one user-facing error."""

from __future__ import annotations

from basegear.errors import GearError


class StateError(GearError):
    """The state directory cannot be used: locked by another cloud, written by another version,
    or damaged. Its hint says what to do (usually ``--fresh``)."""
