"""Service, region, action and bucket from an HTTP request (basegear/cloud/routing.py)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basegear.cloud.routing import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    Route,
    RoutingError,
    parse_query,
    route,
)


def sigv4(service: str, region: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=0123abcd"
    )


def test_sigv4_scope_names_service_and_region() -> None:
    headers = {
        "authorization": sigv4("dynamodb", "eu-west-1"),
        "x-amz-target": "DynamoDB_20120810.PutItem",
    }
    assert route("POST", {}, headers, b"{}") == Route(
        service="dynamodb", region="eu-west-1", account=DEFAULT_ACCOUNT, action="PutItem"
    )


def test_dynamodb_streams_is_told_apart_by_its_target_prefix() -> None:
    headers = {
        "authorization": sigv4("dynamodb", "us-east-1"),
        "x-amz-target": "DynamoDBStreams_20120810.GetRecords",
    }
    found = route("POST", {}, headers, b"{}")
    assert (found.service, found.action) == ("dynamodbstreams", "GetRecords")


def test_query_protocol_action_from_form_body() -> None:
    headers = {
        "authorization": sigv4("sns", "eu-west-1"),
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    found = route("POST", {}, headers, b"Action=Publish&Version=2010-03-31&Message=hi")
    assert (found.service, found.action) == ("sns", "Publish")


def test_query_protocol_action_from_query_string() -> None:
    headers = {"authorization": sigv4("iam", "us-east-1")}
    found = route("GET", parse_query("Action=ListRoles&Version=2010-05-08"), headers, b"")
    assert (found.service, found.action) == ("iam", "ListRoles")


def test_rest_protocols_have_no_action() -> None:
    headers = {"authorization": sigv4("lambda", "eu-central-1")}
    found = route("POST", {}, headers, b"{}")
    assert found == Route(service="lambda", region="eu-central-1")


def test_sigv4a_scope_has_no_region() -> None:
    headers = {
        "authorization": "AWS4-ECDSA-P256-SHA256 Credential=AKID/20240101/s3/aws4_request, "
        "SignedHeaders=host, Signature=00"
    }
    assert route("GET", {}, headers, b"") == Route(service="s3", region=DEFAULT_REGION)


def test_presigned_v4_url() -> None:
    query = parse_query(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKID%2F20240101%2Fap-south-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=abc"
    )
    assert route("GET", query, {"host": "127.0.0.1:4566"}, b"") == Route("s3", "ap-south-1")


def test_presigned_v2_url_and_sigv2_header_are_s3() -> None:
    query = parse_query("AWSAccessKeyId=AKID&Expires=1700000000&Signature=abc%3D")
    assert route("GET", query, {}, b"").service == "s3"
    assert route("GET", {}, {"authorization": "AWS AKID:c2lnbmF0dXJl"}, b"").service == "s3"


def test_unsigned_json_request_by_target_prefix() -> None:
    found = route("POST", {}, {"x-amz-target": "AmazonSQS.SendMessage"}, b"{}")
    assert found == Route(service="sqs", region=DEFAULT_REGION, action="SendMessage")


def test_execute_api_host() -> None:
    found = route("GET", {}, {"host": "a1b2c3.execute-api.eu-west-1.amazonaws.com"}, b"")
    assert (found.service, found.region) == ("execute-api", "eu-west-1")
    local = route("GET", {}, {"host": "a1b2c3.execute-api.localhost:4566"}, b"")
    assert (local.service, local.region) == ("execute-api", DEFAULT_REGION)


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("my-bucket.s3.eu-west-1.amazonaws.com", "my-bucket"),
        ("my-bucket.s3.amazonaws.com", "my-bucket"),
        ("my-bucket.s3-eu-west-1.amazonaws.com", "my-bucket"),
        ("my.dotted.s3.bucket.s3.us-east-1.amazonaws.com", "my.dotted.s3.bucket"),
        ("My-Bucket.localhost:4566", "my-bucket"),
        ("my-bucket.s3.localhost:4566", "my-bucket"),
        ("s3.localhost:4566", None),
        ("localhost:4566", None),
        ("127.0.0.1:4566", None),
        ("s3.eu-west-1.amazonaws.com", None),
        ("[::1]:4566", None),
    ],
)
def test_virtual_hosted_s3_bucket(host: str, bucket: str | None) -> None:
    headers = {"authorization": sigv4("s3", "eu-west-1"), "host": host}
    assert route("GET", {}, headers, b"").bucket == bucket


def test_bucket_only_for_s3() -> None:
    headers = {"authorization": sigv4("sqs", "eu-west-1"), "host": "queue.localhost"}
    assert route("POST", {}, headers, b"").bucket is None


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "MissingAuthenticationToken"),
        ({"x-amz-target": "NoSuchService_2020.Do"}, "MissingAuthenticationToken"),
        ({"authorization": "Bearer abc"}, "IncompleteSignature"),
        ({"authorization": "AWS4-HMAC-SHA256 SignedHeaders=host"}, "IncompleteSignature"),
        (
            {"authorization": "AWS4-HMAC-SHA256 Credential=AKID/2024/us-east-1"},
            "IncompleteSignature",
        ),
        ({"authorization": sigv4("Bad Service", "us-east-1")}, "IncompleteSignature"),
        ({"authorization": sigv4("s3", "../../etc")}, "IncompleteSignature"),
    ],
)
def test_requests_that_name_no_service(headers: dict[str, str], code: str) -> None:
    with pytest.raises(RoutingError) as raised:
        route("POST", {}, headers, b"")
    assert raised.value.code == code
    assert raised.value.status in (400, 403)


def test_invalid_action_names_are_dropped() -> None:
    headers = {"authorization": sigv4("sqs", "us-east-1"), "x-amz-target": "AmazonSQS.<script>"}
    assert route("POST", {}, headers, b"").action is None


_SERVICES = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
_REGIONS = st.from_regex(r"[a-z]{2}-[a-z]{4,9}-[1-9]", fullmatch=True)


@given(service=_SERVICES, region=_REGIONS)
def test_any_scope_round_trips(service: str, region: str) -> None:
    found = route("POST", {}, {"authorization": sigv4(service, region)}, b"")
    assert (found.service, found.region, found.account) == (service, region, DEFAULT_ACCOUNT)


_TEXT = st.text(alphabet=st.characters(codec="latin-1"), max_size=120)
_HEADER_NAMES = st.sampled_from(
    ["authorization", "x-amz-target", "host", "content-type", "x-amz-date", "user-agent"]
)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "X"]),
    query=st.text(alphabet=string.printable, max_size=200),
    headers=st.dictionaries(_HEADER_NAMES | _TEXT.map(str.lower), _TEXT, max_size=6),
    body=st.binary(max_size=300),
)
def test_any_request_routes_or_raises_routing_error(
    method: str, query: str, headers: dict[str, str], body: bytes
) -> None:
    try:
        found = route(method, parse_query(query), headers, body)
    except RoutingError as error:
        assert error.status in (400, 403)
        assert error.code in ("MissingAuthenticationToken", "IncompleteSignature")
    else:
        assert found.service
        assert found.region


@given(
    prefix=st.sampled_from(["AWS4-HMAC-SHA256 ", "AWS4-ECDSA-P256-SHA256 ", "AWS "]),
    credential=st.text(alphabet=string.printable, max_size=120),
)
def test_garbled_signatures_never_crash(prefix: str, credential: str) -> None:
    headers = {"authorization": f"{prefix}Credential={credential}, SignedHeaders=host"}
    try:
        route("POST", {}, headers, b"")
    except RoutingError as error:
        assert error.code == "IncompleteSignature"
