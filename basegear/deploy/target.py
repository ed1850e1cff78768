"""Where a deployment goes — the local cloud (the default) or, later, AWS — and the one boundary
where boto3's errors become ``GearError``s.

Every call goes through boto3 with the target's endpoint; only the endpoint and the credentials
differ between targets (DESIGN.md, "One path, two targets"). In local mode the credentials are
dummies and nothing of the user's AWS configuration is read: no profile, no config file, no
credentials from the environment, so a local deploy can never reach or bill a real account.

The local endpoint is, in order: ``--endpoint`` as given; ``GEAR_ENDPOINT_URL``, which must be
a loopback address (a variable left over from another shell must not send a "local" deploy to
another machine); the cloud ``gear up`` recorded in ``.gear/cloud.json``; else
``http://127.0.0.1:4566``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from basegear.cloud.server import DEFAULT_HOST, DEFAULT_PORT, is_loopback
from basegear.errors import GearError

LOCAL_ENDPOINT = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
ENDPOINT_VARIABLE = "GEAR_ENDPOINT_URL"
DUMMY_CREDENTIAL = "testing"
NOT_RUNNING_HINT = "start the local cloud with gear up, or give its address with --endpoint URL"


@dataclass(frozen=True)
class Target:
    """A CloudFormation-speaking cloud: ``endpoint_url`` None means AWS's own endpoints."""

    region: str
    endpoint_url: str | None
    local: bool = True
    _clients: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def where(self) -> str:
        return self.endpoint_url or f"AWS ({self.region})"

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` for this target, made once (from one session, which
        loads botocore's data files once)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint_url, config=self._config()
            )
        return self._clients[service]

    @cached_property
    def _session(self) -> Any:
        import boto3
        from botocore.configprovider import ConstantProvider
        from botocore.session import Session

        from basegear.awsdata import boto3_session

        if not self.local:
            return boto3.session.Session(region_name=self.region)
        # A botocore session that reads no config or credentials file and ignores AWS_PROFILE;
        # the endpoint, region and credentials given here win over the environment's.
        core = Session()
        store = core.get_component("config_store")
        store.set_config_provider("profile", ConstantProvider(None))
        store.set_config_provider("config_file", ConstantProvider(os.devnull))
        store.set_config_provider("credentials_file", ConstantProvider(os.devnull))
        core.set_credentials(DUMMY_CREDENTIAL, DUMMY_CREDENTIAL)
        # The local cloud runs in this process under gear up: share its parsed data files.
        return boto3_session(core, region_name=self.region)

    def _config(self) -> Any:
        from botocore.config import Config

        if not self.local:
            return Config(retries={"mode": "standard"})
        return Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            account_id_endpoint_mode="disabled",
            s3={"addressing_style": "path"},
            connect_timeout=2,
            read_timeout=310,  # the local CloudFormation answers once a stack operation is done
        )


def local_target(
    region: str,
    endpoint: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    record_dir: Path | None = None,
) -> Target:
    """The local cloud in ``region`` (see the module docstring for where its address comes
    from). Raises ``GearError`` for an address that is no URL, or a non-loopback one that was
    not given explicitly."""
    environ = os.environ if environ is None else environ
    if endpoint is not None:
        return Target(region, _checked_url(endpoint, "--endpoint"))
    from_environment = environ.get(ENDPOINT_VARIABLE)
    if from_environment:
        url = _checked_url(from_environment, ENDPOINT_VARIABLE)
        if not is_loopback(urlsplit(url).hostname or ""):
            raise GearError(
                f"{ENDPOINT_VARIABLE} is {url}, which is not on this machine",
                hint=f"a local deploy goes to a loopback address unless told otherwise: pass "
                f"--endpoint {url} to deploy there, or unset {ENDPOINT_VARIABLE}",
            )
        return Target(region, url)
    from basegear.cloud.record import read_record

    record = read_record(record_dir or Path.cwd())
    return Target(region, record.endpoint_url if record is not None else LOCAL_ENDPOINT)


def _checked_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GearError(
            f"{where} must be an http(s) URL, got '{url}'", hint="e.g. http://127.0.0.1:4566"
        )
    return url.rstrip("/")


@contextmanager
def aws_errors(target: Target, doing: str) -> Iterator[None]:
    """The boundary: a boto3/botocore error while ``doing`` something becomes a GearError that
    says what failed, where, and what to do."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
    )

    try:
        yield
    except (EndpointConnectionError, ConnectionClosedError) as exc:
        hint = NOT_RUNNING_HINT if target.local else "check the network and the region"
        raise GearError(f"{doing}: no answer from {target.where}", hint=hint) from exc
    except ReadTimeoutError as exc:
        raise GearError(
            f"{doing}: {target.where} did not answer in time",
            hint="the operation may still finish; check it with gear status",
        ) from exc
    except NoCredentialsError as exc:
        raise GearError(
            f"{doing}: no AWS credentials", hint="configure a profile or AWS_PROFILE"
        ) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        raise GearError(f"{doing}: {code}: {message}", hint=_hint(code, message, target)) from exc
    except BotoCoreError as exc:
        raise GearError(f"{doing}: {exc}", hint="run again with --debug to see where") from exc


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _hint(code: str, message: str, target: Target) -> str:
    if "No export named" in message:
        return (
            "deploy the stack that exports it first; with gear up, list its folder before "
            "this service's (e.g. gear up examples/algorithms/static examples/algorithms)"
        )
    if code in ("NotImplemented", "InvalidAction") and target.local:
        return "the local cloud does not support this yet; please report it"
    if code in ("AccessDenied", "AccessDeniedException", "UnrecognizedClientException"):
        return "check the credentials and permissions of the profile in use"
    return "fix what the message names and run the command again"
