"""A packaged zip, as the compiler refers to it. The S3 key is content-addressed, so the same
code always has the same key and the same template."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

from basegear.model import Layer

# The layer serverless-python-requirements adds with ``layer: true``; its logical ID is
# PythonRequirementsLambdaLayer, which functions reference with ``!Ref``.
REQUIREMENTS_LAYER = "pythonRequirements"


@dataclass(frozen=True)
class Artifact:
    path: Path  # the zip on disk
    sha256: str  # hex digest of the zip's bytes
    size: int  # bytes, zipped
    unzipped_size: int  # bytes, as Lambda counts against its 250 MB limit
    files: int = 0  # entries in the zip

    @classmethod
    def of(cls, path: Path, unzipped_size: int, files: int = 0) -> Artifact:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        return cls(path, digest, path.stat().st_size, unzipped_size, files)

    @property
    def code_sha256(self) -> str:
        """The digest as Lambda reports it in ``CodeSha256``: base64 of the raw SHA-256."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    def s3_key(self, service: str, stage: str) -> str:
        return f"basegear/{service}/{stage}/{self.sha256[:16]}/{self.path.name}"


@dataclass(frozen=True)
class RequirementsLayer:
    """The Python requirements as a layer (``custom.pythonRequirements.layer``). ``layer`` holds
    what the plugin gives the layer — name ``<service>-<stage>-python-requirements``, a
    description, ``compatibleRuntimes: [provider.runtime]`` — with the user's ``layer:``
    settings over it; compile it like ``layers[REQUIREMENTS_LAYER]``."""

    layer: Layer
    artifact: Artifact


@dataclass(frozen=True)
class Artifacts:
    """Every zip a service deploys: one per function (functions sharing the service package map
    to the same Artifact; a function with an ``image`` has none), one per layer of ``layers``,
    and the requirements layer when the plugin is set to make one."""

    functions: dict[str, Artifact]
    layers: dict[str, Artifact]
    requirements_layer: RequirementsLayer | None = None
