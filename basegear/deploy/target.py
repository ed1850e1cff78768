"""Where a deployment goes — the local cloud (the default) or AWS (``--target aws``, never
otherwise) — and the one boundary where boto3's errors become ``GearError``s.

Every call goes through boto3 with the target's endpoint; only the endpoint and the credentials
differ between targets (DESIGN.md, "One path, two targets"). In local mode the credentials are
dummies and nothing of the user's AWS configuration is read: no profile, no config file, no
credentials from the environment, so a local deploy can never reach or bill a real account.

The AWS target reads credentials the way the AWS CLI does (botocore's chain: environment,
``--profile`` or ``AWS_PROFILE`` in the shared files, SSO, container or instance role) and talks
to AWS's own endpoints only: an ``AWS_ENDPOINT_URL`` left in the environment is ignored
(botocore's ``ignore_configured_endpoint_urls``), so ``--target aws`` means AWS.

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
TARGETS = ("local", "aws")
CREDENTIAL_SOURCES = (
    "the environment (AWS_ACCESS_KEY_ID), the profile's entries in ~/.aws/credentials and "
    "~/.aws/config (SSO included), a container or an instance role"
)


@dataclass(frozen=True)
class Target:
    """A CloudFormation-speaking cloud: ``endpoint_url`` None means AWS's own endpoints;
    ``profile`` names the AWS profile of a non-local target (None: botocore's default chain)."""

    region: str
    endpoint_url: str | None
    local: bool = True
    profile: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def where(self) -> str:
        if self.endpoint_url:
            return self.endpoint_url
        return (
            f"AWS ({self.region}, profile {self.profile})"
            if self.profile
            else f"AWS ({self.region})"
        )

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
            from botocore.exceptions import ProfileNotFound

            try:
                return boto3.session.Session(profile_name=self.profile, region_name=self.region)
            except ProfileNotFound as exc:
                raise GearError(
                    f"the AWS profile '{self.profile}' is not in ~/.aws/config or "
                    "~/.aws/credentials",
                    hint="name a profile that exists (aws configure list-profiles)",
                ) from exc
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
            return Config(retries={"mode": "standard"}, ignore_configured_endpoint_urls=True)
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


def aws_target(region: str, profile: str | None = None) -> Target:
    """Real AWS in ``region``, with ``profile``'s credentials (None: botocore's default chain).
    Raises a ``GearError`` that says where credentials were looked for when none are found;
    the credentials are resolved here, before any call, but not checked against AWS (see
    ``caller_identity``)."""
    target = Target(region, None, local=False, profile=profile)
    from botocore.exceptions import BotoCoreError

    try:
        credentials = target._session.get_credentials()
    except BotoCoreError as exc:  # a broken profile: a bad role_arn, an SSO cache unreadable
        raise GearError(
            f"cannot read the AWS credentials of {_whose(profile)}: {exc}",
            hint="fix the profile in ~/.aws/config, or give another with --profile",
        ) from exc
    if credentials is None:
        raise GearError(
            f"--target aws: no AWS credentials found for {_whose(profile)}; looked in "
            + CREDENTIAL_SOURCES,
            hint="configure them (aws configure, or aws sso login --profile NAME) and pass "
            "--profile NAME or set AWS_PROFILE; nothing was deployed",
        )
    return target


def resolve_target(
    kind: str, region: str, *, profile: str | None = None, endpoint: str | None = None
) -> Target:
    """The target a command names: ``local`` (the default; ``--endpoint`` may point it
    elsewhere) or ``aws``, which must be asked for explicitly and takes ``--profile``."""
    if kind == "aws":
        if endpoint is not None:
            raise GearError(
                "--endpoint is for the local cloud; --target aws talks to AWS's own endpoints",
                hint="drop --endpoint, or drop --target aws to deploy to the cloud at it",
            )
        return aws_target(region, profile)
    if kind != "local":
        raise GearError(f"--target must be local or aws, got '{kind}'")
    if profile is not None:
        raise GearError(
            f"--profile {profile} is for --target aws; the local cloud uses dummy credentials",
            hint=f"to deploy to AWS with that profile: --target aws --profile {profile}",
        )
    return local_target(region, endpoint)


def caller_identity(target: Target) -> str:
    """``account 123456789012 as arn:aws:iam::…`` (STS GetCallerIdentity): checks that AWS
    accepts the credentials before anything else is called."""
    with aws_errors(target, "checking the AWS credentials (sts get-caller-identity)"):
        identity = target.client("sts").get_caller_identity()
    return f"account {identity['Account']} as {identity['Arn']}"


def _whose(profile: str | None) -> str:
    return f"profile '{profile}'" if profile else "the default profile"


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
        PartialCredentialsError,
        ReadTimeoutError,
        SSOError,
        TokenRetrievalError,
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
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise GearError(
            f"{doing}: no AWS credentials for {target.where}; looked in {CREDENTIAL_SOURCES}",
            hint="configure a profile (aws configure) and pass --profile NAME or set AWS_PROFILE",
        ) from exc
    except (SSOError, TokenRetrievalError) as exc:
        login = "aws sso login" + (f" --profile {target.profile}" if target.profile else "")
        raise GearError(
            f"{doing}: the SSO session of {_whose(target.profile)} is not usable: {exc}",
            hint=f"log in again: {login}",
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
    if code in ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId"):
        return "the credentials are expired or unknown to AWS; refresh them (aws sso login)"
    return "fix what the message names and run the command again"
