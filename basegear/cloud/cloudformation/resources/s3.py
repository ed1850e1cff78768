"""AWS::S3::Bucket and AWS::S3::BucketPolicy.

CloudFormation resource reference, AWS::S3::Bucket: Ref is the bucket name; Fn::GetAtt gives
Arn, DomainName, DualStackDomainName, RegionalDomainName and WebsiteURL; only BucketName requires
replacement; a generated name is lower case and at most 63 characters. A bucket that still holds
objects cannot be deleted (the delete fails, as on AWS: "The bucket you tried to delete is not
empty"). The template's lifecycle, CORS and notification shapes differ from the S3 API's and are
translated here."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    not_found,
    required,
    tag_list,
)
from basegear.cloud.cloudformation.resources.registry import handles

BUCKET_SETTINGS = (
    "BucketEncryption",
    "VersioningConfiguration",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "LifecycleConfiguration",
    "CorsConfiguration",
    "NotificationConfiguration",
    "WebsiteConfiguration",
    "Tags",
)


@handles
class Bucket(Handler):
    type_name = "AWS::S3::Bucket"
    attributes = frozenset(
        {"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL"}
    )
    replace_on = frozenset({"BucketName"})
    name_property = "BucketName"

    def create(self, ctx: Context, props: Properties) -> Created:
        _check(props)
        name = props.get("BucketName") or ctx.physical_name(63, lowercase=True)
        s3 = ctx.client("s3")
        if ctx.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": ctx.region}
            )
        for setting in BUCKET_SETTINGS:
            if setting in props:
                _apply(s3, name, setting, props[setting])
        return self._created(ctx, name)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        _check(new)
        s3 = ctx.client("s3")
        for setting in BUCKET_SETTINGS:
            if old.get(setting) != new.get(setting):
                _apply(s3, current.physical_id, setting, new.get(setting))
        return self._created(ctx, current.physical_id)

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("s3").delete_bucket(Bucket=current.physical_id)

    @staticmethod
    def _created(ctx: Context, name: str) -> Created:
        suffix = "amazonaws.com"
        return Created(
            name,
            {
                "Arn": f"arn:{ctx.partition}:s3:::{name}",
                "DomainName": f"{name}.s3.{suffix}",
                "DualStackDomainName": f"{name}.s3.dualstack.{ctx.region}.{suffix}",
                "RegionalDomainName": f"{name}.s3.{ctx.region}.{suffix}",
                "WebsiteURL": f"http://{name}.s3-website-{ctx.region}.{suffix}",
            },
        )


def _check(props: Properties) -> None:
    known = {*BUCKET_SETTINGS, "BucketName"}
    unknown = sorted(set(props) - known)
    if unknown:
        raise ResourceError(
            f"AWS::S3::Bucket properties {unknown} are not supported by the local CloudFormation"
        )


def _apply(s3: Any, bucket: str, setting: str, value: Any) -> None:
    """Put one bucket setting, or remove it when ``value`` is None."""
    if setting == "BucketEncryption":
        if value is None:
            s3.delete_bucket_encryption(Bucket=bucket)
        else:
            s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration=_encryption(value)
            )
    elif setting == "VersioningConfiguration":
        status = value["Status"] if value else "Suspended"
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    elif setting == "PublicAccessBlockConfiguration":
        if value is None:
            s3.delete_public_access_block(Bucket=bucket)
        else:
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=value)
    elif setting == "OwnershipControls":
        if value is None:
            s3.delete_bucket_ownership_controls(Bucket=bucket)
        else:
            s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=value)
    elif setting == "LifecycleConfiguration":
        if value is None:
            s3.delete_bucket_lifecycle(Bucket=bucket)
        else:
            rules = [_lifecycle_rule(rule) for rule in value.get("Rules", [])]
            s3.put_bucket_lifecycle_configuration(
                Bucket=bucket, LifecycleConfiguration={"Rules": rules}
            )
    elif setting == "CorsConfiguration":
        if value is None:
            s3.delete_bucket_cors(Bucket=bucket)
        else:
            rules = [_cors_rule(rule) for rule in value.get("CorsRules", [])]
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    elif setting == "NotificationConfiguration":
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=_notifications(value or {})
        )
    elif setting == "WebsiteConfiguration":
        if value is None:
            s3.delete_bucket_website(Bucket=bucket)
        else:
            s3.put_bucket_website(Bucket=bucket, WebsiteConfiguration=_website(value))
    elif setting == "Tags":
        if value:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_list(value)})
        else:
            s3.delete_bucket_tagging(Bucket=bucket)


def _encryption(value: dict[str, Any]) -> dict[str, Any]:
    """AWS::S3::Bucket BucketEncryption → PutBucketEncryption's configuration."""
    rules = []
    for rule in value.get("ServerSideEncryptionConfiguration", []):
        out: dict[str, Any] = {}
        default = rule.get("ServerSideEncryptionByDefault")
        if default:
            out["ApplyServerSideEncryptionByDefault"] = dict(default)
        if "BucketKeyEnabled" in rule:
            out["BucketKeyEnabled"] = str(rule["BucketKeyEnabled"]).lower() == "true"
        rules.append(out)
    return {"Rules": rules}


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """AWS::S3::Bucket Rule → the PutBucketLifecycleConfiguration rule."""
    out: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        out["ID"] = rule["Id"]
    if "TagFilters" in rule or "ObjectSizeGreaterThan" in rule:
        out["Filter"] = {
            "And": {
                "Prefix": rule.get("Prefix", ""),
                "Tags": tag_list(rule.get("TagFilters", [])),
            }
        }
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "ExpirationDate" in rule:
        out["Expiration"] = {"Date": rule["ExpirationDate"]}
    if "ExpiredObjectDeleteMarker" in rule:
        out["Expiration"] = {"ExpiredObjectDeleteMarker": bool(rule["ExpiredObjectDeleteMarker"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    if "NoncurrentVersionExpirationInDays" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpirationInDays"])
        }
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = rule["NoncurrentVersionExpiration"]
    if "Transitions" in rule:
        out["Transitions"] = [
            {
                key: value
                for key, value in (
                    ("Days", transition.get("TransitionInDays")),
                    ("Date", transition.get("TransitionDate")),
                    ("StorageClass", transition["StorageClass"]),
                )
                if value is not None
            }
            for transition in rule["Transitions"]
        ]
    return out


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    renames = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
    return {renames.get(key, key): value for key, value in rule.items()}


def _filter(spec: dict[str, Any] | None) -> dict[str, Any]:
    if not spec:
        return {}
    rules = spec.get("S3Key", {}).get("Rules", [])
    return {"Filter": {"Key": {"FilterRules": [dict(rule) for rule in rules]}}}


def _notifications(value: dict[str, Any]) -> dict[str, Any]:
    """AWS::S3::Bucket NotificationConfiguration → PutBucketNotificationConfiguration."""
    out: dict[str, Any] = {}
    lambdas = [
        {
            "LambdaFunctionArn": item["Function"],
            "Events": [item["Event"]],
            **_filter(item.get("Filter")),
        }
        for item in value.get("LambdaConfigurations", [])
    ]
    queues = [
        {"QueueArn": item["Queue"], "Events": [item["Event"]], **_filter(item.get("Filter"))}
        for item in value.get("QueueConfigurations", [])
    ]
    topics = [
        {"TopicArn": item["Topic"], "Events": [item["Event"]], **_filter(item.get("Filter"))}
        for item in value.get("TopicConfigurations", [])
    ]
    if lambdas:
        out["LambdaFunctionConfigurations"] = lambdas
    if queues:
        out["QueueConfigurations"] = queues
    if topics:
        out["TopicConfigurations"] = topics
    if value.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        out["EventBridgeConfiguration"] = {}
    return out


def _website(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "IndexDocument" in value:
        out["IndexDocument"] = {"Suffix": value["IndexDocument"]}
    if "ErrorDocument" in value:
        out["ErrorDocument"] = {"Key": value["ErrorDocument"]}
    if "RedirectAllRequestsTo" in value:
        out["RedirectAllRequestsTo"] = value["RedirectAllRequestsTo"]
    return out


@handles
class BucketPolicy(Handler):
    """Ref is the bucket name; a new Bucket replaces the policy (resource reference)."""

    type_name = "AWS::S3::BucketPolicy"
    replace_on = frozenset({"Bucket"})

    def create(self, ctx: Context, props: Properties) -> Created:
        bucket = required(props, "Bucket", self.type_name)
        document = required(props, "PolicyDocument", self.type_name)
        ctx.client("s3").put_bucket_policy(Bucket=bucket, Policy=as_json(document))
        return Created(bucket)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        return self.create(ctx, new)

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        try:
            ctx.client("s3").delete_bucket_policy(Bucket=current.physical_id)
        except Exception as exc:
            if not not_found(exc):
                raise
