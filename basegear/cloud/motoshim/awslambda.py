"""moto's Lambda (``moto/awslambda/models.py``) wired to BaseGear's Lambda runtime.

Every path by which moto runs a function — the Invoke API, SNS deliveries, S3 notifications,
EventBridge targets, its own event source mappings — ends in ``LambdaBackend.invoke`` or
``LambdaFunction.invoke``, which would start a Docker container. Both are replaced, so each
caller reaches :class:`MotoLambda`, which builds a :class:`FunctionSpec` from moto's function
and runs it in the runtime:

- code: the function's zip, unpacked once per CodeSha256 into ``cache_dir/code/<sha>``, or a
  local folder given for the function (``gear up`` serves the service's own files, so edits
  are picked up by the next invocation);
- layers: moto's layer store, unpacked the same way, or a local folder given for a layer ARN
  the local cloud does not hold (``LambdaFunction._get_layers_data`` is replaced so that moto
  accepts such an ARN; any other unknown ARN fails as AWS fails it);
- an alias qualifier is resolved with its routing weights (moto stores them and ignores them);
- ``LambdaResponse.invoke`` reads the ``Qualifier`` query parameter as ``qualifier`` and so
  never finds it: it is wrapped to pass it on.

Private moto attributes replaced are listed in ``PATCHED``; ``check_moto()`` fails loudly when a
moto upgrade moves one of them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload
from urllib.parse import unquote

from moto.awslambda import models, responses
from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.utils import get_backend
from moto.core.exceptions import JsonRESTError

from basegear.cloud.lambdas.runtime import LambdaRuntime
from basegear.cloud.lambdas.spec import (
    LATEST,
    FunctionSpec,
    InvocationType,
    InvokeError,
    InvokeResult,
)

PATCHED = (
    ("moto.awslambda.models.LambdaBackend", "invoke"),
    ("moto.awslambda.models.LambdaFunction", "invoke"),
    ("moto.awslambda.models.LambdaFunction", "_get_layers_data"),
    ("moto.awslambda.responses.LambdaResponse", "invoke"),
)
# What our replacements read of moto's objects (checked by check_moto too).
_FUNCTION_ATTRIBUTES = (
    "function_name",
    "handler",
    "run_time",
    "version",
    "memory_size",
    "timeout",
    "environment_vars",
    "layers",
    "code_bytes",
    "code_sha_256",
    "reserved_concurrency",
    "region",
    "account_id",
    "code_or_config_updated",
)
_BACKEND_METHODS = (
    "get_function",
    "get_alias",
    "layers_versions_by_arn",
    "list_versions_by_function",
    "list_aliases",
    "publish_version",
)


def check_moto() -> None:
    """Raise if moto no longer has what this module replaces or reads."""
    for owner, attribute in PATCHED:
        module, _, class_name = owner.rpartition(".")
        cls = getattr(responses if module.endswith("responses") else models, class_name)
        if not callable(getattr(cls, attribute, None)):
            raise RuntimeError(f"moto moved {owner}.{attribute}: update {__name__}")
    for method in _BACKEND_METHODS:
        if not callable(getattr(models.LambdaBackend, method, None)):
            raise RuntimeError(f"moto moved LambdaBackend.{method}: update {__name__}")
    if not isinstance(getattr(models, "lambda_backends", None), dict):  # read by backend_for
        raise RuntimeError(f"moto moved awslambda.models.lambda_backends: update {__name__}")


class LambdaApiError(Exception):
    """A Lambda API error from moto (or ours), translated once, here: the provider turns it into
    an AWS error response without importing moto."""

    def __init__(self, status: int, code: str, message: str, extra: Mapping[str, str] = {}):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra)


@contextmanager
def moto_errors() -> Iterator[None]:
    try:
        yield
    except JsonRESTError as exc:
        raise LambdaApiError(int(exc.code), exc.error_type, exc.message) from exc


class _ThrottledError(LambdaClientError):
    """429 TooManyRequestsException with its Reason, as AWS's body carries it."""

    code = 429

    def __init__(self, error: InvokeError) -> None:
        super().__init__(error.code, error.message)
        self.code = error.status
        self.description = json.dumps(error.aws_body())


@dataclass(slots=True)
class Resolved:
    """An Invoke target: moto's function object for the executed version."""

    function: Any  # moto.awslambda.models.LambdaFunction
    latest: Any
    qualifier: str | None  # as the caller named it


class MotoLambda:
    """Runs moto's functions in a ``LambdaRuntime``. ``code_folders`` maps a function name,
    ``layer_folders`` a layer version ARN, to a local folder used instead of a zip."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        *,
        cache_dir: Path,
        code_folders: Mapping[str, Path] | None = None,
        layer_folders: Mapping[str, Path] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.runtime = runtime
        self.cache_dir = Path(cache_dir)
        self.code_folders = dict(code_folders or {})
        self.layer_folders = dict(layer_folders or {})
        self._rng = rng or random.Random()
        self._unpacked: dict[str, Path] = {}
        self._lock = threading.Lock()
        # What ``resolve_remembered`` and ``invoke_warm`` found, until the next Lambda API write
        # (``forget``); each entry keeps the moto objects it was found from, and is used only
        # while they are still the ones asked about.
        self._generation = 0
        self._remembered: dict[tuple[int, str, str | None], tuple[Any, Resolved]] = {}
        self._warm_specs: dict[int, tuple[Any, Any, FunctionSpec]] = {}
        self._saved: dict[tuple[type, str], Any] = {}

    # -- installing --------------------------------------------------------------------------

    def install(self) -> None:
        """Replace moto's invoke paths with this object's (until ``uninstall``)."""
        check_moto()
        plug = self

        def backend_invoke(
            backend: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            with plug._throttle_as_moto_error(headers, response_headers) as out:
                target = plug.resolve(backend, function_name, qualifier)
                out.append(plug._run(target, body, headers, response_headers))
            return out[0]

        def function_invoke(function: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
            with plug._throttle_as_moto_error(headers, response_headers) as out:
                backend = get_backend(function.account_id, function.region)
                latest = backend.get_function(function.function_name)
                qualifier = None if str(function.version) == LATEST else str(function.version)
                target = Resolved(function, latest, qualifier)
                out.append(plug._run(target, body, headers, response_headers))
            return out[0]

        def get_layers_data(function: Any, arns: list[str]) -> list[dict[str, Any]]:
            return plug._layers_data(get_backend(function.account_id, function.region), arns)

        moto_response_invoke = responses.LambdaResponse.__dict__["invoke"]
        if (responses.LambdaResponse, "invoke") in self._saved:
            moto_response_invoke = self._saved[(responses.LambdaResponse, "invoke")]

        def response_invoke(response: Any) -> Any:
            query = response.querystring
            if "Qualifier" in query and "qualifier" not in query:
                query["qualifier"] = query["Qualifier"]
            return moto_response_invoke(response)

        for cls, name, replacement in (
            (models.LambdaBackend, "invoke", backend_invoke),
            (models.LambdaFunction, "invoke", function_invoke),
            (models.LambdaFunction, "_get_layers_data", get_layers_data),
            (responses.LambdaResponse, "invoke", response_invoke),
        ):
            self._saved.setdefault((cls, name), cls.__dict__[name])
            setattr(cls, name, replacement)

    def uninstall(self) -> None:
        for (cls, name), original in self._saved.items():
            setattr(cls, name, original)
        self._saved.clear()

    # -- the Invoke API ----------------------------------------------------------------------

    def resolve(self, backend: Any, function_name: str, qualifier: str | None) -> Resolved:
        """The function version an Invoke runs. An alias with ``RoutingConfig`` sends each
        invocation to an additional version with that version's weight, to the alias's own
        version otherwise (Lambda developer guide, "Implement Lambda canary deployments using
        a weighted alias")."""
        return self._resolve(backend, function_name, qualifier)[0]

    def resolve_remembered(
        self, backend: Any, function_name: str, qualifier: str | None
    ) -> Resolved:
        """``resolve``, remembered until the next write to the Lambda API (``forget``): for a
        caller that resolves the same function for every request, an API's integration. A
        weighted alias is resolved again each time, since it draws a version."""
        key = (id(backend), function_name, qualifier)
        known = self._remembered.get(key)
        if known is not None and known[0] is backend:
            return known[1]
        generation = self._generation
        target, drawn = self._resolve(backend, function_name, qualifier)
        if not drawn:
            with self._lock:
                if generation == self._generation:  # no write while it was looked up
                    self._remembered[key] = (backend, target)
        return target

    def forget(self) -> None:
        """Drop what was remembered: a function, version, alias or setting may have changed."""
        with self._lock:
            self._generation += 1
            self._remembered = {}
            self._warm_specs = {}

    def _resolve(
        self, backend: Any, function_name: str, qualifier: str | None
    ) -> tuple[Resolved, bool]:
        """The target, and whether a weighted alias drew its version."""
        name, named_qualifier = split_function_name(function_name)
        qualifier = qualifier or named_qualifier
        with moto_errors():
            latest = backend.get_function(name)
            if qualifier is None or qualifier == LATEST:
                return Resolved(latest, latest, qualifier), False
            if qualifier.isdigit():
                return Resolved(backend.get_function(name, qualifier), latest, qualifier), False
            alias = backend.get_alias(qualifier, name)
            version = str(alias.function_version)
            weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
            draw = self._rng.random()
            for extra, weight in weights.items():
                draw -= float(weight)
                if draw < 0:
                    version = str(extra)
                    break
            return Resolved(backend.get_function(name, version), latest, qualifier), bool(weights)

    def invoke(
        self,
        target: Resolved,
        payload: bytes,
        *,
        invocation_type: InvocationType = "RequestResponse",
        client_context: str | None = None,
    ) -> InvokeResult:
        """Run ``target`` in the runtime (raises ``InvokeError`` for throttles and bad input)."""
        return self.runtime.invoke(
            self.spec(target.function, target.latest),
            payload,
            invocation_type=invocation_type,
            qualifier=target.qualifier,
            client_context=client_context,
        )

    async def invoke_warm(
        self,
        target: Resolved,
        payload: bytes,
        *,
        client_context: str | None = None,
        payload_is_json: bool = False,
    ) -> InvokeResult | None:
        """A RequestResponse ``invoke`` on the running event loop when the function's code is
        unpacked and a warm worker is idle (``LambdaRuntime.invoke_warm``); None otherwise,
        having done nothing: then call ``invoke`` from a thread. The spec is remembered until
        the next write to the Lambda API (``forget``)."""
        function, latest = target.function, target.latest
        known = self._warm_specs.get(id(function))
        if known is not None and known[0] is function and known[1] is latest:
            spec = known[2]
        else:
            generation = self._generation
            found = self.spec(function, latest, unpack=False)
            if found is None:
                return None
            spec = found
            with self._lock:
                if generation == self._generation:
                    self._warm_specs[id(function)] = (function, latest, spec)
        return await self.runtime.invoke_warm(
            spec,
            payload,
            qualifier=target.qualifier,
            client_context=client_context,
            payload_is_json=payload_is_json,
        )

    @overload
    def spec(self, function: Any, latest: Any) -> FunctionSpec: ...

    @overload
    def spec(self, function: Any, latest: Any, *, unpack: bool) -> FunctionSpec | None: ...

    def spec(self, function: Any, latest: Any, *, unpack: bool = True) -> FunctionSpec | None:
        """The runtime's view of one of moto's function versions; with ``unpack=False``, None
        when its code or a layer's has still to be unpacked (file work, not for an event
        loop)."""
        name = function.function_name
        folder = self.code_folders.get(name)
        code = folder or self._unpack("code", function.code_sha_256, function.code_bytes, unpack)
        layer_folders = [
            self._layer_folder(layer["Arn"], function, unpack) for layer in function.layers
        ]
        if code is None or None in layer_folders:
            return None
        layers = tuple(path for path in layer_folders if path is not None)
        reserved = latest.reserved_concurrency
        return FunctionSpec(
            name=name,
            handler=function.handler or "",
            code_dir=code,
            version=str(function.version),
            runtime=function.run_time or "python3.11",
            memory_size=int(function.memory_size),
            timeout=float(function.timeout),
            environment=dict(function.environment_vars or {}),
            layers=layers,
            region=function.region,
            account=function.account_id,
            reserved_concurrency=None if reserved is None else int(reserved),
            watch=folder is not None or any(str(a) in self.layer_folders for a in function.layers),
        )

    # -- the control plane -------------------------------------------------------------------

    def publish_version(self, backend: Any, name: str, description: str, sha: str | None) -> Any:
        """PublishVersion: nothing new is published when code and configuration are those of
        the last version, whose own description is kept (Lambda API reference,
        PublishVersion); a stale CodeSha256 is refused. moto decides "changed" by a flag it
        never resets on the first publish, so the comparison is made here."""
        with moto_errors():
            latest = backend.get_function(name)
            if sha is not None and sha != latest.code_sha_256:
                raise InvalidParameterValueException(
                    f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                    f"({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST."
                )
            published = list(backend.list_versions_by_function(name))[1:]
            if published and _same_code_and_config(published[-1], latest):
                return published[-1]
            latest.code_or_config_updated = True
            return backend.publish_version(name, description)

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _throttle_as_moto_error(self, headers: Any, response_headers: Any) -> Iterator[list[bytes]]:
        """A throttle answers the Invoke API with 429; moto's internal callers (SNS, S3,
        EventBridge, its mappings) pass no request headers and get a function error instead,
        which they treat as a failed delivery."""
        out: list[bytes] = []
        try:
            yield out
        except InvokeError as exc:
            if _header(headers, "host") is not None or _header(headers, "user-agent") is not None:
                raise _ThrottledError(exc) from exc
            response_headers["x-amz-function-error"] = "Unhandled"
            out.append(json.dumps({"errorType": exc.code, "errorMessage": exc.message}).encode())
        except LambdaApiError as exc:
            raise LambdaClientError(exc.code, exc.message) from exc

    def _run(self, target: Resolved, body: Any, headers: Any, response_headers: Any) -> bytes:
        payload = body.encode() if isinstance(body, str) else bytes(body or b"")
        invocation_type = _header(headers, "x-amz-invocation-type") or "RequestResponse"
        context = _header(headers, "x-amz-client-context")
        result = self.invoke(
            target,
            payload,
            invocation_type=invocation_type,  # type: ignore[arg-type]
            client_context=base64.b64decode(context).decode() if context else None,
        )
        if result.status == 200:
            response_headers["x-amz-executed-version"] = result.executed_version
            if result.function_error:
                response_headers["x-amz-function-error"] = result.function_error
            if _header(headers, "x-amz-log-type") == "Tail":
                response_headers["x-amz-log-result"] = result.log_result()
        return result.payload

    def _layer_folder(self, arn: str, function: Any, unpack: bool = True) -> Path | None:
        if arn in self.layer_folders:
            return self.layer_folders[arn]
        backend = get_backend(function.account_id, function.region)
        layer = backend.layers_versions_by_arn(arn)
        if layer is None:
            raise LambdaApiError(400, "InvalidParameterValueException", _no_layer(arn))
        return self._unpack("layers", layer.code_sha_256, layer.code_bytes, unpack)

    def _layers_data(self, backend: Any, arns: list[str]) -> list[dict[str, Any]]:
        """CreateFunction / UpdateFunctionConfiguration's Layers: moto's store, or a folder
        given for the ARN; else 400 "Layer version <arn> does not exist." as AWS answers."""
        data = []
        for arn in arns:
            if arn in self.layer_folders:
                size = sum(
                    p.stat().st_size for p in self.layer_folders[arn].rglob("*") if p.is_file()
                )
                data.append({"Arn": arn, "CodeSize": size})
                continue
            layer = backend.layers_versions_by_arn(arn)
            if layer is None:
                raise InvalidParameterValueException(_no_layer(arn))
            data.append({"Arn": layer.arn, "CodeSize": layer.code_size})
        return data

    def _unpack(self, kind: str, sha: str, zipped: bytes, unpack: bool = True) -> Path | None:
        """A zip's contents in ``cache_dir/<kind>/<sha>``, unpacked once per CodeSha256; with
        ``unpack=False``, None unless that is done already."""
        key = f"{kind}/{sha}"
        folder = self._unpacked.get(key)
        if folder is not None or not unpack:
            return folder
        with self._lock:
            safe = base64.urlsafe_b64encode(base64.b64decode(sha or "")).decode().rstrip("=")
            folder = self.cache_dir / kind / (safe or "empty")
            if not folder.is_dir():
                folder.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".unpack-"))
                try:
                    if zipped:
                        with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
                            _extract(archive, staging)
                    os.replace(staging, folder)
                except OSError:
                    shutil.rmtree(staging, ignore_errors=True)
                    if not folder.is_dir():
                        raise
            self._unpacked[key] = folder
            return folder


def _extract(archive: zipfile.ZipFile, target: Path) -> None:
    """Unpack keeping the zip's file modes (handlers may ship executables)."""
    for member in archive.infolist():
        path = Path(archive.extract(member, target))
        mode = member.external_attr >> 16
        if mode and not member.is_dir():
            path.chmod(mode & 0o777 or 0o644)


def _no_layer(arn: str) -> str:
    return f"Layer version {arn} does not exist."


_PUBLISHED_FIELDS = (
    "code_sha_256",
    "handler",
    "run_time",
    "memory_size",
    "timeout",
    "environment_vars",
    "layers",
    "role",
    "dead_letter_config",
)


def _same_code_and_config(version: Any, latest: Any) -> bool:
    """The description is not compared: PublishVersion's Description goes to the version."""
    return all(getattr(version, f, None) == getattr(latest, f, None) for f in _PUBLISHED_FIELDS)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and hasattr(headers, "items"):
        lower = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lower:
                return str(candidate)
    return None if value is None else str(value)


def split_function_name(name: str) -> tuple[str, str | None]:
    """``my-function``, ``my-function:v1``, ``123456789012:function:my-function`` or a full ARN
    (Lambda API reference, Invoke, FunctionName) → (name, qualifier or None)."""
    name = unquote(name)
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6], (parts[7] if len(parts) > 7 else None)
    if ":function:" in name:
        rest = name.split(":function:", 1)[1]
        base, _, qualifier = rest.partition(":")
        return base, qualifier or None
    base, _, qualifier = name.partition(":")
    return base, qualifier or None


def backend_for(account: str, region: str) -> Any:
    """moto's Lambda backend of an account and region. moto's own lookup takes a lock and scans
    a list on every call (``BackendDict._create_account_specific_backend``); once the backend
    exists, reading the dicts directly finds the same object, also after a reset (which
    empties them)."""
    regions = dict.get(models.lambda_backends, account)
    backend = dict.get(regions, region) if regions is not None else None
    return backend if backend is not None else get_backend(account, region)


def version_configurations(backend: Any, function_name: str) -> list[dict[str, Any]]:
    """Every version's configuration, ``$LATEST`` first, then by version number."""
    name, _ = split_function_name(function_name)
    with moto_errors():
        backend.get_function(name)  # 404 for an unknown function (moto answers an empty list)
        versions = list(backend.list_versions_by_function(name))
    return [v.get_configuration() for v in versions]


def alias_configurations(
    backend: Any, function_name: str, function_version: str | None
) -> list[dict[str, Any]]:
    """The function's aliases by name, only those of ``function_version`` when given."""
    name, _ = split_function_name(function_name)
    with moto_errors():
        aliases = list(backend.list_aliases(name))
    return [
        a.to_json()
        for a in aliases
        if function_version is None or str(a.function_version) == function_version
    ]


def configuration(function: Any) -> dict[str, Any]:
    with moto_errors():
        config: dict[str, Any] = function.get_configuration()
    return config
