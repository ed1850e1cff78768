"""The moto internals durable state relies on (basegear/cloud/state/moto_*.py): each one still
exists where its module says, still plays the part assumed, and the shims do what they say — so
a moto upgrade that moves one fails here, by name. Also: what the pickler is taught, and a
snapshot of a populated cloud's backends that reads back whole."""

from __future__ import annotations

import importlib
import inspect
import json
import pickle
import sys
import threading
import time
import uuid
import weakref
from collections import defaultdict
from typing import Any

import pytest

from basegear.cloud.protocol import AwsRequest
from basegear.cloud.state import (
    moto_core,
    moto_lambda,
    moto_s3,
    moto_sns,
    moto_sqs,
    moto_ssm,
    moto_stepfunctions,
    pickling,
)
from basegear.testing import CloudClients

SHIMS = (moto_core, moto_lambda, moto_s3, moto_sns, moto_sqs, moto_ssm, moto_stepfunctions)
RELIED_ON = [pair for shim in SHIMS for pair in (*shim.PATCHED, *getattr(shim, "READ", ()))]


def _resolve(owner: str) -> Any:
    """``package.module`` or ``package.module.Class``."""
    try:
        return importlib.import_module(owner)
    except ModuleNotFoundError:
        module, _, name = owner.rpartition(".")
        return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("owner", "attribute"), RELIED_ON)
def test_every_moto_internal_relied_on_still_exists(owner: str, attribute: str) -> None:
    target = _resolve(owner)
    if inspect.isclass(target) and not hasattr(target, attribute):
        # an instance attribute: set in __init__
        assert f"self.{attribute}" in inspect.getsource(target.__init__), f"moto moved {owner}"
    else:
        assert hasattr(target, attribute), f"moto moved {owner}.{attribute}"


def test_moto_core_finds_what_it_needs() -> None:
    moto_core.check_moto()


def test_the_local_factories_are_still_the_ones_replaced() -> None:
    from moto.awslambda.models import LambdaStorage
    from moto.ssm.models import ParameterDict, SimpleSystemManagerBackend

    aliases = LambdaStorage("eu-west-1", "123456789012")._aliases
    assert isinstance(aliases, defaultdict)
    assert aliases.default_factory is not None
    assert aliases.default_factory.__qualname__ == moto_lambda.ALIASES_FACTORY
    assert aliases.default_factory() == pickling.FACTORIES[moto_lambda.ALIASES_FACTORY]()
    tags = SimpleSystemManagerBackend("eu-west-1", "123456789012")._resource_tags
    assert tags.default_factory is not None
    assert tags.default_factory.__qualname__ == moto_ssm.TAGS_FACTORY
    made, ours = tags.default_factory(), pickling.FACTORIES[moto_ssm.TAGS_FACTORY]()
    assert (type(made), made.default_factory) == (type(ours), ours.default_factory)
    assert list(inspect.signature(ParameterDict.__init__).parameters) == [
        "self",
        "account_id",
        "region_name",
    ]


def test_moto_still_reads_the_clock_and_draws_ids_where_the_shims_replace_them() -> None:
    from moto.s3.models import FakeMultipart
    from moto.sns.models import Subscription
    from moto.sqs.models import Message
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    assert "unix_time_millis()" in inspect.getsource(Message.change_visibility)
    assert "os.urandom(" in inspect.getsource(FakeMultipart.__init__)
    assert "requests.post(" in inspect.getsource(Subscription.publish)
    # The module's text: StartExecution itself is wrapped while a cloud runs (motoshim).
    parser_models = sys.modules[StepFunctionsParserBackend.__module__]
    assert "execution.start()" in inspect.getsource(parser_models)


def test_replay_freezes_sqs_time_and_skips_invocations_deliveries_and_executions() -> None:
    import moto.sns.models as sns_models
    import moto.sqs.models as sqs_models
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.stepfunctions.parser.backend.execution import Execution

    before = (sqs_models.unix_time, LambdaFunction.invoke, sns_models.requests, Execution.start)
    from basegear.cloud.state.replay import replaying

    with replaying() as clock:
        clock.now = 1234.5
        assert sqs_models.unix_time() == 1234.5
        assert sqs_models.unix_time_millis() == 1234500.0
        assert LambdaFunction.invoke(object(), b"{}", {}, {}) == b""
        assert LambdaBackend.invoke(object(), "f", None, b"{}", {}, {}) == b""
        assert sns_models.requests.post("http://127.0.0.1:1/x") is None
        execution: Any = type("Stub", (), {})()
        Execution.start(execution)
        assert isinstance(execution.exec_worker, moto_stepfunctions.StoppedWorker)
    assert (sqs_models.unix_time, LambdaFunction.invoke, sns_models.requests, Execution.start) == (
        before
    )


def _sqs_receive(body: bytes, headers: dict[str, str]) -> AwsRequest:
    return AwsRequest(
        "POST", "/", {}, headers, body, "sqs", "eu-west-1", "123456789012", "ReceiveMessage"
    )


def test_a_replayed_receive_never_waits() -> None:
    json_request = _sqs_receive(
        b'{"QueueUrl": "q", "WaitTimeSeconds": 20}', {"x-amz-target": "AmazonSQS.ReceiveMessage"}
    )
    assert json.loads(moto_sqs.for_replay(json_request).body)["WaitTimeSeconds"] == 0
    query_request = _sqs_receive(b"Action=ReceiveMessage&QueueUrl=q&WaitTimeSeconds=20", {})
    assert moto_sqs.for_replay(query_request).body.endswith(b"&WaitTimeSeconds=0")
    assert b"=20" not in moto_sqs.for_replay(query_request).body


def test_s3_upload_ids_come_from_the_seeded_source() -> None:
    import moto.s3.models as s3_models

    moto_core.install_random()
    moto_s3.install()
    drawn = []
    for _ in range(2):
        token = moto_core.ACTIVE.set(moto_core.new_random(7))
        try:
            drawn.append(s3_models.os.urandom(16))
        finally:
            moto_core.ACTIVE.reset(token)
    assert drawn[0] == drawn[1] and len(drawn[0]) == 16
    assert s3_models.os.path is not None  # the rest of os is still there


# -- the pickler -----------------------------------------------------------------------------


class Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rlock = threading.RLock()
        self.cond = threading.Condition()
        self.event = threading.Event()
        self.event.set()
        self.thread = threading.Thread(target=print)
        self.values = [Holder.Value(1), Holder.Value(2)]
        self.index: weakref.WeakValueDictionary[str, Holder.Value] = weakref.WeakValueDictionary(
            {"a": self.values[0], "b": self.values[1]}
        )

    class Value:
        def __init__(self, number: int) -> None:
            self.number = number


def test_the_pickler_saves_locks_conditions_threads_and_weak_indexes_as_what_they_stand_for() -> (
    None
):
    holder = Holder()
    holder.lock.acquire()
    copy = pickling.loads(pickling.dumps(holder))
    assert copy.lock.acquire(blocking=False)  # new and unlocked
    with copy.cond:
        copy.cond.notify_all()
    assert copy.event.is_set()
    assert copy.thread is None
    assert {key: value.number for key, value in copy.index.items()} == {"a": 1, "b": 2}
    assert copy.index["a"] is copy.values[0]


def test_a_local_defaultdict_factory_is_saved_only_when_registered() -> None:
    def make_list() -> list[int]:
        return []

    known: defaultdict[str, Any] = defaultdict(make_list)
    known["x"].append(1)
    pickling.FACTORIES[make_list.__qualname__] = list
    try:
        copy = pickling.loads(pickling.dumps(known))
    finally:
        del pickling.FACTORIES[make_list.__qualname__]
    assert copy == {"x": [1]} and copy["new"] == []
    with pytest.raises(pickle.PicklingError, match="register an equivalent"):
        pickling.dumps(known)


# -- a populated cloud -----------------------------------------------------------------------


def test_a_snapshot_of_every_backend_in_use_reads_back(local_cloud: CloudClients) -> None:
    region, tag = "eu-west-1", uuid.uuid4().hex[:8]
    ddb = local_cloud.client("dynamodb", region)
    table = f"snap-{tag}"
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}})
    sqs = local_cloud.client("sqs", region)
    queue = sqs.create_queue(QueueName=f"snap-{tag}")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    sqs.receive_message(QueueUrl=queue, VisibilityTimeout=60)  # in flight: a Condition'd queue
    ssm = local_cloud.client("ssm", region)
    ssm.put_parameter(Name=f"/snap/{tag}", Value="v", Type="String")
    ssm.add_tags_to_resource(
        ResourceType="Parameter", ResourceId=f"/snap/{tag}", Tags=[{"Key": "k", "Value": "v"}]
    )
    sfn = local_cloud.client("stepfunctions", region)
    machine = sfn.create_state_machine(
        name=f"snap-{tag}",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
        ),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name=f"running-{tag}")  # a live worker
    time.sleep(0.2)
    copy = pickling.loads(pickling.dumps(moto_core.capture()))
    saved = {(module, attribute): accounts for module, attribute, accounts in copy}
    dynamodb = saved[("moto.dynamodb.models", "dynamodb_backends")]["123456789012"][region]
    assert [item.hash_key.value for item in dynamodb.tables[table].all_items()] == ["k"]
    queues = saved[("moto.sqs.models", "sqs_backends")]["123456789012"][region].queues
    [message] = queues[f"snap-{tag}"]._messages
    assert message.body == "hello" and message.receipt_handle
    parameters = saved[("moto.ssm.models", "ssm_backends")]["123456789012"][region]._parameters
    assert parameters[f"/snap/{tag}"][-1].value == "v"


def test_an_sns_backend_with_its_signing_key_survives_a_snapshot() -> None:
    # moto's SNS signs messages with an RSA key it makes on first use; a snapshot saves it as PEM.
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    restored = pickling.loads(pickling.dumps({"signing_key": key}))["signing_key"]
    assert restored.private_numbers() == key.private_numbers()
