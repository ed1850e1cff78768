"""Asynchronous invocations accepted (202) are not lost when the local cloud stops — cleanly, or
killed with SIGKILL — and restarts on the same durable state: the events still queued run again
with their attempt counts and retry times (Lambda developer guide, "Asynchronous invocation":
Lambda keeps an event in its queue until it is processed or discarded).

Each cloud runs in a process of its own (``running_local_cloud(state_dir=…)`` in a script),
so restoring moto's state does not touch the test session's own cloud."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    '''
    import io, json, sys, textwrap, zipfile
    from pathlib import Path

    from basegear.testing import running_local_cloud

    state_dir, runs_file, stage = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    HANDLER = textwrap.dedent("""
        import json, os

        def handler(event, context):
            with open(os.environ["RUNS"], "a") as runs:
                runs.write(json.dumps({"requestId": context.aws_request_id}) + "\\\\n")
            raise Exception("always failing")
    """)


    def runs():
        return len(runs_file.read_text().splitlines()) if runs_file.exists() else 0


    def say(**answer):
        print(json.dumps(answer), flush=True)


    with running_local_cloud(state_dir=state_dir) as cloud:
        services = cloud.services
        invocations = services.async_invocations
        clock = services.clock
        lambdas, sqs = cloud.client("lambda"), cloud.client("sqs")
        if stage == "first":
            clock.set_mode("manual")
            role = cloud.client("iam").create_role(
                RoleName="async-restart", AssumeRolePolicyDocument="{}"
            )["Role"]["Arn"]
            url = sqs.create_queue(QueueName="async-restart-dlq")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            archive = io.BytesIO()
            with zipfile.ZipFile(archive, "w") as zipped:
                zipped.writestr("handler.py", HANDLER)
            lambdas.create_function(
                FunctionName="async-restart",
                Runtime="python3.12",
                Role=role,
                Handler="handler.handler",
                Code={"ZipFile": archive.getvalue()},
                Environment={"Variables": {"RUNS": str(runs_file)}},
                DeadLetterConfig={"TargetArn": arn["Attributes"]["QueueArn"]},
            )
            lambdas.put_function_event_invoke_config(
                FunctionName="async-restart", MaximumRetryAttempts=1
            )
            answer = lambdas.invoke(
                FunctionName="async-restart", InvocationType="Event", Payload=b'{"n": 7}'
            )
            invocations.wait_idle(30)
            say(
                request_id=answer["ResponseMetadata"]["RequestId"],
                status=answer["StatusCode"],
                runs=runs(),
                pending=invocations.pending(),
            )
            if sys.argv[4] == "kill":
                sys.stdin.read()  # until the test kills this process
        else:
            pending = invocations.pending()
            clock.set_mode("manual")
            invocations.start()
            invocations.wait_idle(30)
            before = runs()
            clock.advance(60)
            invocations.wait_idle(30)
            url = sqs.get_queue_url(QueueName="async-restart-dlq")["QueueUrl"]
            found = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])
            message = found["Messages"][0]
            say(
                pending=pending,
                runs_before_retry=before,
                runs=runs(),
                pending_after=invocations.pending(),
                body=message["Body"],
                request_id=message["MessageAttributes"]["RequestID"]["StringValue"],
            )
    '''
)


def _run(script: Path, *args: str, stop: str = "clean") -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, str(script), *args, stop],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = process.stdout.readline()
        if stop == "kill":
            os.kill(process.pid, signal.SIGKILL)
        process.wait(60)
        errors = process.stderr.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert line, f"the cloud process said nothing:\n{errors[-3000:]}"
    answer: dict[str, Any] = json.loads(line)
    return answer


@pytest.mark.parametrize("stop", ["clean", "kill"])
def test_queued_events_survive_a_restart(tmp_path: Path, stop: str) -> None:
    # "Asynchronous invocation": an event Lambda answered 202 for stays queued until it is
    # processed or discarded; here its retry (one minute after the failed first run) is made
    # by the restarted cloud, and then the event goes to the dead-letter queue.
    script = tmp_path / "cloud.py"
    script.write_text(SCRIPT)
    state_dir, runs_file = tmp_path / "state", tmp_path / "runs.jsonl"
    first = _run(script, str(state_dir), str(runs_file), "first", stop=stop)
    assert first["status"] == 202
    assert (first["runs"], first["pending"]) == (1, 1)
    second = _run(script, str(state_dir), str(runs_file), "second")
    assert second["pending"] == 1
    assert second["runs_before_retry"] == 1  # not due before its minute has passed
    assert second["runs"] == 2
    assert second["pending_after"] == 0
    assert json.loads(second["body"]) == {"n": 7}
    assert second["request_id"] == first["request_id"]
