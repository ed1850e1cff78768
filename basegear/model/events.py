"""Function events (Serverless Framework v3 documentation, "Events"), with AWS's ranges."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from basegear.model.base import (
    CfnString,
    Json,
    Model,
    OneOf,
    Range,
    describe,
    field_errors,
    shorthand,
)


def _record_age(value: int) -> int:
    # -1 keeps records until they expire; otherwise 60 to 604,800 seconds (Lambda API
    # reference, CreateEventSourceMapping, MaximumRecordAgeInSeconds).
    if value != -1 and not 60 <= value <= 604800:
        raise PydanticCustomError(
            "range",
            "expected -1 (keep records until they expire) or an integer from 60 to 604800, "
            "got {got}",
            {"got": value},
        )
    return value


class OnFailure(Model):
    arn: CfnString
    type: Annotated[str, OneOf("sns", "sqs")] | None = None


class StreamDestinations(Model):
    on_failure: Annotated[OnFailure, shorthand("arn")]


class StreamEvent(Model):
    """``stream``: a DynamoDB or Kinesis event source mapping. Ranges from the Lambda API
    reference, CreateEventSourceMapping."""

    arn: CfnString
    type: Annotated[str, OneOf("dynamodb", "kinesis")] | None = None
    batch_size: Annotated[int, Range(1, 10000)] = 10  # the Serverless Framework's default
    batch_window: Annotated[int, Range(0, 300)] | None = None
    starting_position: Annotated[str, OneOf("LATEST", "TRIM_HORIZON", "AT_TIMESTAMP")] = (
        "TRIM_HORIZON"
    )
    starting_position_timestamp: float | None = None
    enabled: bool = True
    maximum_retry_attempts: Annotated[int, Range(-1, 10000)] | None = None
    maximum_record_age_in_seconds: Annotated[int, AfterValidator(_record_age)] | None = None
    bisect_batch_on_function_error: bool | None = None
    parallelization_factor: Annotated[int, Range(1, 10)] | None = None
    function_response_type: Annotated[str, OneOf("ReportBatchItemFailures")] | None = None
    destinations: StreamDestinations | None = None
    tumbling_window_in_seconds: Annotated[int, Range(0, 900)] | None = None
    filter_patterns: list[dict[str, Json]] | None = None
    consumer: bool | CfnString | None = None

    @model_validator(mode="before")
    @classmethod
    def _stream_type(cls, value: Any) -> Any:
        # The kind of stream shows in a literal ARN; a computed ARN needs `type` to say it.
        if not isinstance(value, dict) or value.get("type") is not None:
            return value
        arn = value.get("arn")
        for kind in ("dynamodb", "kinesis"):
            if isinstance(arn, str) and f":{kind}:" in arn:
                return {**value, "type": kind}
        if arn is not None:
            raise PydanticCustomError(
                "stream_type",
                "type (dynamodb or kinesis) is needed when arn is not a literal "
                "DynamoDB or Kinesis stream ARN",
                {},
            )
        return value

    @model_validator(mode="after")
    def _starting_position(self) -> StreamEvent:
        # DynamoDB Streams start at TRIM_HORIZON or LATEST only; AT_TIMESTAMP is for Kinesis
        # and needs StartingPositionTimestamp (Lambda API reference, CreateEventSourceMapping).
        position = self.starting_position
        message = ""
        if position == "AT_TIMESTAMP" and self.type == "dynamodb":
            message = "a DynamoDB stream starts at LATEST or TRIM_HORIZON, got 'AT_TIMESTAMP'"
        elif position == "AT_TIMESTAMP" and self.starting_position_timestamp is None:
            message = "startingPosition AT_TIMESTAMP needs startingPositionTimestamp"
        if message:
            raise field_errors("StreamEvent", [("startingPosition", message, {}, position)])
        return self


class SqsEvent(Model):
    """``sqs``: an SQS event source mapping (Lambda developer guide, "Using Lambda with SQS")."""

    arn: CfnString
    batch_size: Annotated[int, Range(1, 10000)] = 10
    maximum_batching_window: Annotated[int, Range(0, 300)] | None = None
    function_response_type: Annotated[str, OneOf("ReportBatchItemFailures")] | None = None
    enabled: bool = True
    filter_patterns: list[dict[str, Json]] | None = None
    maximum_concurrency: Annotated[int, Range(2, 1000)] | None = None

    @model_validator(mode="after")
    def _batching(self) -> SqsEvent:
        size, window = self.batch_size, self.maximum_batching_window
        fifo = isinstance(self.arn, str) and self.arn.endswith(".fifo")
        error: tuple[str, str, dict[str, Any], Any] | None = None
        if fifo and size > 10:
            # "For FIFO queues, the maximum is 10" (Lambda developer guide, "Lambda parameters
            # for Amazon SQS event source mappings").
            message = "a FIFO queue takes a batchSize of at most 10, got {got}"
            error = ("batchSize", message, {"got": size}, size)
        elif fifo and window is not None:
            # "Batching window is not supported for FIFO queues" (same page).
            message = "a FIFO queue does not support maximumBatchingWindow"
            error = ("maximumBatchingWindow", message, {}, window)
        elif size > 10 and not window:
            # "When you set BatchSize to a value greater than 10, you must set
            # MaximumBatchingWindowInSeconds to at least 1" (Lambda API reference).
            message = "a batchSize above 10 (got {got}) needs maximumBatchingWindow of at least 1"
            error = ("batchSize", message, {"got": size}, size)
        if error is not None:
            raise field_errors("SqsEvent", [error])
        return self


class S3Rule(Model):
    """One key-name filter: exactly one of ``prefix`` or ``suffix`` (Serverless Framework v3
    schema, s3 event rules: ``maxProperties: 1``; a rule with no key names no filter)."""

    prefix: CfnString | None = None
    suffix: CfnString | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(value) != 1:
            raise PydanticCustomError(
                "one_rule",
                "each rule has exactly one key, prefix or suffix (write two rules for both), "
                "got {got}",
                {"got": ", ".join(map(str, value)) or "none"},
            )
        return value


class S3Event(Model):
    bucket: CfnString
    event: str = "s3:ObjectCreated:*"
    rules: list[S3Rule] | None = None
    existing: bool = False
    force_deploy: bool = False


class SnsEvent(Model):
    arn: CfnString | None = None
    topic_name: str | None = None
    display_name: str | None = None
    filter_policy: dict[str, Json] | None = None
    filter_policy_scope: Annotated[str, OneOf("MessageAttributes", "MessageBody")] | None = None
    redrive_policy: dict[str, Json] | None = None
    kms_master_key_id: CfnString | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_or_arn(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"arn": value} if value.startswith("arn:") else {"topicName": value}
        return (
            {"arn": value}
            if isinstance(value, dict)
            and len(value) == 1
            and ("Ref" in value or any(str(k).startswith("Fn::") for k in value))
            else value
        )


class ScheduleEvent(Model):
    """``schedule``: ``rate(…)`` or ``cron(…)``, one or several (EventBridge User Guide,
    "Schedule expressions")."""

    rate: list[str]
    enabled: bool = True
    name: str | None = None
    description: str | None = None
    input: Json = None
    input_path: str | None = None
    input_transformer: dict[str, Json] | None = None
    method: Annotated[str, OneOf("eventBus", "scheduler")] | None = None
    timezone: str | None = None
    role_arn: CfnString | None = None

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = {"rate": value}
        if isinstance(value, dict) and isinstance(value.get("rate"), str):
            value = {**value, "rate": [value["rate"]]}
        return value

    @model_validator(mode="after")
    def _expressions(self) -> ScheduleEvent:
        for expression in self.rate:
            if not (expression.startswith(("rate(", "cron(")) and expression.endswith(")")):
                raise PydanticCustomError(
                    "schedule",
                    "expected rate(…) or cron(…), got {got}",
                    {"got": describe(expression)},
                )
        return self


class EventBridgeEvent(Model):
    event_bus: CfnString | None = None
    schedule: str | None = None
    pattern: dict[str, Json] | None = None
    input: Json = None
    input_path: str | None = None
    input_transformer: dict[str, Json] | None = None
    name: str | None = None
    description: str | None = None
    enabled: bool = True
    dead_letter_queue_arn: CfnString | None = None
    retry_policy: dict[str, Json] | None = None
    role: CfnString | None = None


class Authorizer(Model):
    name: str | None = None
    arn: CfnString | None = None
    type: str | None = None
    authorizer_id: CfnString | None = None
    scopes: list[str] | None = None
    identity_source: str | None = None
    result_ttl_in_seconds: Annotated[int, Range(0, 3600)] | None = None
    identity_validation_expression: str | None = None
    claims: list[str] | None = None


def _method_path(value: Any) -> Any:
    """``http: GET users/{id}`` → ``{method: GET, path: users/{id}}``."""
    if isinstance(value, str):
        method, _, path = value.strip().partition(" ")
        return {"method": method, "path": path.strip()} if path else {"method": method}
    return value


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")


def _http_method(value: Any) -> Any:
    if isinstance(value, str) and value.upper() in HTTP_METHODS:
        return value.upper()
    if isinstance(value, str) and value == "*":
        return value
    raise PydanticCustomError(
        "method",
        "expected an HTTP method ({allowed}), got {got}",
        {"allowed": ", ".join(HTTP_METHODS), "got": repr(value)},
    )


HttpMethod = Annotated[str, BeforeValidator(_http_method)]


class HttpRequest(Model):
    parameters: dict[str, Json] | None = None
    schemas: dict[str, Json] | None = None
    template: dict[str, str] | None = None
    pass_through: Annotated[str, OneOf("NEVER", "WHEN_NO_MATCH", "WHEN_NO_TEMPLATES")] | None = None
    content_handling: Annotated[str, OneOf("CONVERT_TO_BINARY", "CONVERT_TO_TEXT")] | None = None
    uri: CfnString | None = None


class HttpResponse(Model):
    headers: dict[str, str] | None = None
    template: str | None = None
    status_codes: dict[str, Json] | None = None


class HttpEvent(Model):
    """``http``: a REST API (API Gateway v1) endpoint."""

    path: str
    method: HttpMethod
    cors: bool | dict[str, Json] = False
    private: bool = False
    async_: bool = Field(False, alias="async")
    integration: str | None = None
    authorizer: Annotated[Authorizer, shorthand("name")] | None = None
    request: HttpRequest | None = None
    response: HttpResponse | None = None
    operation_id: str | None = None
    connection_id: CfnString | None = None
    connection_type: str | None = None

    _expand = model_validator(mode="before")(_method_path)


class HttpApiEvent(Model):
    """``httpApi``: an HTTP API (API Gateway v2) route; ``'*'`` is the catch-all route."""

    method: HttpMethod = "*"
    path: str = "*"
    authorizer: Annotated[Authorizer, shorthand("name")] | None = None

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        return {"method": "*", "path": "*"} if value == "*" else _method_path(value)


class Event(Model):
    """One entry of a function's ``events`` list: exactly one event type."""

    http: HttpEvent | None = None
    http_api: HttpApiEvent | None = None
    stream: Annotated[StreamEvent, shorthand("arn")] | None = None
    sqs: Annotated[SqsEvent, shorthand("arn")] | None = None
    s3: Annotated[S3Event, shorthand("bucket")] | None = None
    sns: SnsEvent | None = None
    schedule: ScheduleEvent | None = None
    event_bridge: EventBridgeEvent | None = None
    # Event types BaseGear accepts and passes on without modelling them yet.
    websocket: Json = None
    alb: Json = None
    cloudwatch_event: Json = None
    cloudwatch_log: Json = None
    cognito_user_pool: Json = None
    iot: Json = None
    kafka: Json = None
    msk: Json = None
    activemq: Json = None
    rabbitmq: Json = None
    alexa_skill: Json = None

    @model_validator(mode="before")
    @classmethod
    def _one_type(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(value) != 1:
            types = {field.alias or name for name, field in cls.model_fields.items()}
            given = [key for key in value if key in types]
            others = [str(key) for key in value if key not in types]
            got = f"got {len(value)} keys: {', '.join(map(str, value))}" if value else "got none"
            if len(given) == 1 and others:
                # The usual slip: an option written beside the event type, not under it.
                got += f" (should {', '.join(others)} be indented under {given[0]}?)"
            raise PydanticCustomError(
                "one_event",
                "each event is a mapping with exactly one event type (http, stream, sqs, …), {got}",
                {"got": got},
            )
        return value

    @property
    def kind(self) -> str:
        return next(iter(self.model_dump(by_alias=True, exclude_none=True)))
