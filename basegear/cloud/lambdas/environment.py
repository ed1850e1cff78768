"""The environment a handler sees: the variables Lambda defines (Lambda developer guide,
"Defined runtime environment variables"), the function's own variables, the local cloud's
endpoint and dummy credentials. Nothing else of the parent's environment is passed on: it is
built from an allow-list, so real AWS credentials, profiles and credential files in the shell
that started BaseGear never reach a handler."""

from __future__ import annotations

import os
from collections.abc import Mapping

from basegear.cloud.lambdas.spec import FunctionSpec

INHERITED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")
"""The only variables taken from the parent's environment."""

CREDENTIAL_VARIABLES = frozenset(
    {
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CREDENTIAL_EXPIRATION",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_SSO_SESSION",
    }
)
"""Variables that choose credentials: never taken from anywhere but this module, not even from
the function's own environment (AWS rejects the access-key ones there as reserved)."""

DUMMY_SECRET = "gear-local-secret"  # a placeholder, not a credential


def _isolated(account: str) -> dict[str, str]:
    """Credentials and settings that keep boto3 on the dummy keys: it never reads ~/.aws and
    never asks an instance-metadata endpoint. The access key is the account id, so a gateway
    can tell accounts apart."""
    return {
        "AWS_ACCESS_KEY_ID": account,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "AWS_SESSION_TOKEN": "gear-local-session",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def zygote_environment(parent: Mapping[str, str], account: str = "123456789012") -> dict[str, str]:
    """What the pre-warmed parent process is started with (and so what /proc shows of every
    worker's initial environment)."""
    env = {name: parent[name] for name in INHERITED if name in parent}
    env.update(_isolated(account))
    env["TZ"] = ":UTC"
    return env


def function_environment(
    spec: FunctionSpec,
    *,
    base: Mapping[str, str],
    log_stream: str,
    endpoint_url: str,
    runtime_dir: str,
) -> dict[str, str]:
    """The environment of one execution environment of ``spec``."""
    env = {name: base[name] for name in INHERITED if name in base}
    env["LANG"] = "en_US.UTF-8"
    env.update(
        (name, value)
        for name, value in spec.environment.items()
        if name not in CREDENTIAL_VARIABLES
    )
    # Defined runtime variables win over the function's own: AWS reserves these names.
    env.update(
        {
            "_HANDLER": spec.handler,
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": runtime_dir,
            "TZ": ":UTC",
            # Local mode never reaches real AWS: every SDK call goes to the local cloud.
            "AWS_ENDPOINT_URL": endpoint_url,
        }
    )
    env.update(_isolated(spec.account))
    return env
