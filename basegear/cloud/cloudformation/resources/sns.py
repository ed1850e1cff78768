"""AWS::SNS::Topic, AWS::SNS::Subscription and AWS::SNS::TopicPolicy.

CloudFormation resource reference: a Topic's Ref is its ARN, Fn::GetAtt gives TopicArn and
TopicName; TopicName and FifoTopic require replacement; its inline ``Subscription`` list
subscribes each endpoint. A Subscription's Ref is the subscription ARN; Endpoint, Protocol and
TopicArn require replacement; FilterPolicy, RedrivePolicy and DeliveryPolicy may be objects.
A TopicPolicy sets the Policy attribute of each of its Topics; deleting it puts the default
topic policy back."""

from __future__ import annotations

import json
from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    fifo_name,
    not_found,
    required,
    tag_list,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles

TOPIC_ATTRIBUTES = (
    "DisplayName",
    "KmsMasterKeyId",
    "ContentBasedDeduplication",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "DeliveryStatusLogging",
)
SUBSCRIPTION_ATTRIBUTES = (
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
)


def _topic_attributes(props: Properties) -> dict[str, str]:
    return {
        key: as_json(props[key]) if isinstance(props[key], dict | list) else text(props[key])
        for key in TOPIC_ATTRIBUTES
        if key in props
    }


def _subscription_attributes(props: Properties) -> dict[str, str]:
    return {
        key: as_json(props[key]) if isinstance(props[key], dict | list) else text(props[key])
        for key in SUBSCRIPTION_ATTRIBUTES
        if key in props
    }


@handles
class Topic(Handler):
    type_name = "AWS::SNS::Topic"
    attributes = frozenset({"TopicArn", "TopicName"})
    replace_on = frozenset({"TopicName", "FifoTopic"})
    name_property = "TopicName"

    def create(self, ctx: Context, props: Properties) -> Created:
        fifo = text(props.get("FifoTopic", False)) == "true"
        name = fifo_name(ctx, props.get("TopicName"), fifo=fifo, max_length=256)
        attributes = _topic_attributes(props)
        if fifo:
            attributes["FifoTopic"] = "true"
        extra: dict[str, Any] = {"Tags": tag_list(props["Tags"])} if props.get("Tags") else {}
        sns = ctx.client("sns")
        arn = sns.create_topic(Name=name, Attributes=attributes, **extra)["TopicArn"]
        for subscription in props.get("Subscription", []):
            sns.subscribe(
                TopicArn=arn,
                Protocol=subscription["Protocol"],
                Endpoint=subscription["Endpoint"],
            )
        return Created(arn, {"TopicArn": arn, "TopicName": name})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        sns = ctx.client("sns")
        arn = current.physical_id
        before, after = _topic_attributes(old), _topic_attributes(new)
        for key, value in after.items():
            if before.get(key) != value:
                sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
        for key in before.keys() - after.keys():
            sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue="")
        old_subs = [(item["Protocol"], item["Endpoint"]) for item in old.get("Subscription", [])]
        new_subs = [(item["Protocol"], item["Endpoint"]) for item in new.get("Subscription", [])]
        if old_subs != new_subs:
            listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
            for item in listed:
                pair = (item["Protocol"], item["Endpoint"])
                if pair in old_subs and pair not in new_subs:
                    sns.unsubscribe(SubscriptionArn=item["SubscriptionArn"])
            for protocol, endpoint in new_subs:
                if (protocol, endpoint) not in old_subs:
                    sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("sns").delete_topic(TopicArn=current.physical_id)


@handles
class Subscription(Handler):
    type_name = "AWS::SNS::Subscription"
    attributes = frozenset({"Arn"})
    replace_on = frozenset({"Endpoint", "Protocol", "TopicArn"})

    def create(self, ctx: Context, props: Properties) -> Created:
        arn = ctx.client("sns").subscribe(
            TopicArn=required(props, "TopicArn", self.type_name),
            Protocol=required(props, "Protocol", self.type_name),
            Endpoint=props.get("Endpoint", ""),
            Attributes=_subscription_attributes(props),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Created(arn, {"Arn": arn})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        sns = ctx.client("sns")
        before, after = _subscription_attributes(old), _subscription_attributes(new)
        for key in sorted(before.keys() | after.keys()):
            if before.get(key) != after.get(key):
                sns.set_subscription_attributes(
                    SubscriptionArn=current.physical_id,
                    AttributeName=key,
                    AttributeValue=after.get(key, ""),
                )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("sns").unsubscribe(SubscriptionArn=current.physical_id)


def _default_policy(topic_arn: str) -> str:
    account = topic_arn.split(":")[4]
    return json.dumps(
        {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
                }
            ],
        }
    )


@handles
class TopicPolicy(Handler):
    type_name = "AWS::SNS::TopicPolicy"
    attributes = frozenset({"Id"})

    def create(self, ctx: Context, props: Properties) -> Created:
        self._set(ctx, props)
        physical_id = ctx.physical_name(128)
        return Created(physical_id, {"Id": physical_id})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        self._reset(ctx, [arn for arn in old.get("Topics", []) if arn not in new.get("Topics", [])])
        self._set(ctx, new)
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        self._reset(ctx, props.get("Topics", []))

    def _set(self, ctx: Context, props: Properties) -> None:
        document = as_json(required(props, "PolicyDocument", self.type_name))
        for arn in required(props, "Topics", self.type_name):
            ctx.client("sns").set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=document
            )

    @staticmethod
    def _reset(ctx: Context, topics: list[str]) -> None:
        for arn in topics:
            try:
                ctx.client("sns").set_topic_attributes(
                    TopicArn=arn, AttributeName="Policy", AttributeValue=_default_policy(arn)
                )
            except Exception as exc:
                if not not_found(exc):
                    raise
