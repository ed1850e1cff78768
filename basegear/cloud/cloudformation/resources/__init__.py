"""One handler module per resource family; importing this package registers every handler.

To add a type: write a ``Handler`` subclass in its family's module with ``@handles``; a type
without one fails its stack with an event naming the type."""

from basegear.cloud.cloudformation.resources import (  # noqa: F401  (registers the handlers)
    apigateway,
    apigatewayv2,
    awslambda,
    cloudwatch,
    custom,
    dynamodb,
    events,
    iam,
    kinesis,
    kms,
    logs,
    mappings,
    s3,
    scheduler,
    sns,
    sqs,
    ssm,
    stepfunctions,
)
from basegear.cloud.cloudformation.resources.registry import handler_for, supported_types

__all__ = ["handler_for", "supported_types"]
