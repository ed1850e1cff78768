"""Logical IDs and physical names shared by several resource families.

They follow the Serverless Framework v3's naming scheme (lib/plugins/aws/lib/naming.js in the
framework), so that a stack deployed by the framework can move to BaseGear without CloudFormation
replacing its resources. Names used by one family only live in that family's module.
"""

from __future__ import annotations

import re

DEPLOYMENT_BUCKET = "ServerlessDeploymentBucket"
DEPLOYMENT_BUCKET_POLICY = "ServerlessDeploymentBucketPolicy"
LAMBDA_ROLE = "IamRoleLambdaExecution"


def upper_first(name: str) -> str:
    return name[:1].upper() + name[1:]


def alphanumeric(name: str) -> str:
    """``my-table_2`` → ``Mytable2``: only letters and digits, first letter upper-case."""
    return upper_first(re.sub(r"[^0-9A-Za-z]", "", name))


def normalized(name: str) -> str:
    """A function or layer key in a logical ID: ``objects-processor`` → ``ObjectsDashprocessor``,
    ``my_fn`` → ``MyUnderscorefn``."""
    return upper_first(name.replace("-", "Dash").replace("_", "Underscore"))


def function_id(key: str) -> str:
    return f"{normalized(key)}LambdaFunction"


def log_group_id(key: str) -> str:
    return f"{normalized(key)}LogGroup"


def layer_id(key: str) -> str:
    return f"{normalized(key)}LambdaLayer"


def stack_name(service: str, stage: str, configured: str | None = None) -> str:
    return configured or f"{service}-{stage}"


def export_name(service: str, stage: str, output: str) -> str:
    """The name an output is exported under, as the Serverless Framework exports every output it
    compiles: ``sls-<service>-<stage>-<output>``."""
    return f"sls-{service}-{stage}-{output}"


def api_name(service: str, stage: str, *, service_first: bool) -> str:
    """A REST or HTTP API's default name: ``<stage>-<service>``, or ``<service>-<stage>`` with
    ``shouldStartNameWithService``."""
    return f"{service}-{stage}" if service_first else f"{stage}-{service}"
