"""Where a package lives, shared by the algorithms handlers.

A package is uploaded to the packages bucket as
``packages/<algorithmId>/<uploadVersion>/<name>.zip`` and recorded in the uploads table under
the key ``(algorithmId, uploadVersion)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PACKAGES_PREFIX = "packages/"

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class UploadStatus(StrEnum):
    """The ``status`` attribute of an item in the uploads table."""

    UPLOADED = "UPLOADED"
    REJECTED = "REJECTED"
    PUBLISHED = "PUBLISHED"
    FAILED = "FAILED"


class InvalidPackageId(ValueError):
    """An algorithm ID or upload version that cannot name a package.

    The PackageDelete state machine catches this error by its name.
    """


@dataclass(frozen=True)
class PackageRef:
    algorithm_id: str
    upload_version: str

    def __post_init__(self) -> None:
        for field, value in (
            ("algorithmId", self.algorithm_id),
            ("uploadVersion", self.upload_version),
        ):
            if not _ID_PATTERN.fullmatch(value):
                raise InvalidPackageId(
                    f"{field} {value!r} must be 1 to 128 letters, digits, '.', '_' or '-'"
                )

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> PackageRef:
        """Read a state machine task input: ``{"algorithmId": ..., "uploadVersion": ...}``."""
        return cls(str(event.get("algorithmId", "")), str(event.get("uploadVersion", "")))

    @classmethod
    def from_object_key(cls, key: str) -> PackageRef | None:
        """The package an S3 object belongs to, or None if the key is outside the layout."""
        parts = key.split("/")
        if len(parts) != 4 or f"{parts[0]}/" != PACKAGES_PREFIX or not parts[3]:
            return None
        try:
            return cls(parts[1], parts[2])
        except InvalidPackageId:
            return None

    @property
    def prefix(self) -> str:
        """The S3 key prefix under which all of the package's objects are stored."""
        return f"{PACKAGES_PREFIX}{self.algorithm_id}/{self.upload_version}/"

    @property
    def key(self) -> dict[str, str]:
        """The package's primary key in the uploads table."""
        return {"algorithmId": self.algorithm_id, "uploadVersion": self.upload_version}
