"""The execution environment: the main loop of one worker process, forked from the zygote.

It speaks to the runtime over one socket (``channel.Channel``: pickled tuples), and writes
the handler's stdout and stderr to a log file that the runtime reads after each invocation,
so the output printed before a crash is kept too.

    runtime → worker   ("init", InitMessage)      once, right after the fork
    worker → runtime   ("ready", init_ms, error)  error is None or an AWS error body
    runtime → worker   ("invoke", Invocation's fields as a plain tuple)   per invocation
    worker → runtime   ("result", ok, body, max_rss_kb, output_bytes)
                       or ("stale",): the code on disk changed since it was loaded, and the
                       handler did not run (``code_stamps``)

The Python runtime's behaviour is followed where the Lambda developer guide describes it
("Define Lambda function handler in Python", "Using the Lambda context object", "Log and
monitor Python Lambda functions"): the handler is imported once per environment (the init
phase), called with the decoded event and a context object, and its return value is encoded
with ``json.dumps``.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import io
import json
import logging
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

from basegear.cloud.lambdas.channel import Channel
from basegear.cloud.lambdas.code_stamps import CodeStamps
from basegear.cloud.lambdas.spec import RESPONSE_LIMIT

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class InitMessage:
    environment: dict[str, str]
    task_root: str
    paths: tuple[str, ...]  # put in front of sys.path: the code folder, then the layers
    handler: str
    watch_roots: tuple[str, ...]  # code and layer folders to check for edits; () for none


class Invocation(NamedTuple):
    """One invocation. It travels as a plain tuple of its fields: pickling a named tuple
    names its class, which costs the sender a lookup and the worker an import check, several
    times the cost of the fields themselves."""

    request_id: str
    payload: bytes
    deadline_ms: int  # epoch milliseconds
    invoked_function_arn: str
    client_context: str | None = None  # JSON, as the X-Amz-Client-Context header carries it


class CognitoIdentity:
    """``context.identity``: set only for calls from the AWS Mobile SDK, None otherwise."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class Client:
    def __init__(self, data: dict[str, Any]) -> None:
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class ClientContext:
    """``context.client_context``: what the caller sent in ``ClientContext``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.client = Client(data.get("client") or {})
        self.custom = data.get("custom")
        self.env = data.get("env")


class LambdaContext:
    """The context object of the Python runtime (Lambda developer guide, "Using the Lambda
    context object to retrieve Python function information")."""

    def __init__(self, call: Invocation) -> None:
        env = os.environ
        self.aws_request_id = call.request_id
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.invoked_function_arn = call.invoked_function_arn
        # A string, as AWS's runtime reads it from AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = CognitoIdentity()
        self.client_context = (
            ClientContext(json.loads(call.client_context)) if call.client_context else None
        )
        self._deadline_ms = call.deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


_REQUEST = _RequestIdFilter()


def _install_log_handler() -> None:
    """The Python runtime gives the root logger a handler that prints
    ``[LEVEL]\\t<UTC time>\\t<request id>\\t<message>``; so ``logging.basicConfig`` does
    nothing in a handler, as on AWS (Lambda developer guide, "Log and monitor Python Lambda
    functions")."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(_REQUEST)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)


def _error(message: str, error_type: str, request_id: str, trace: list[str]) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": trace,
    }


def _log_error(body: dict[str, Any], tb: traceback.StackSummary | None = None) -> None:
    """The runtime logs an uncaught error as one event: ``[ERROR] Type: message`` then the
    traceback, its newlines turned into carriage returns."""
    lines = [f"[ERROR] {body['errorType']}: {body['errorMessage']}"]
    if tb:
        lines.append("Traceback (most recent call last):")
        lines.extend(entry.rstrip("\n") for entry in tb.format())
    print("\r".join(lines), file=sys.stdout)


def _user_error(exc: BaseException, request_id: str) -> dict[str, Any]:
    # Drop the runtime's own frame, as AWS's stack traces start in the handler.
    frames = traceback.StackSummary.from_list(traceback.extract_tb(exc.__traceback__)[1:])
    body = _error(str(exc), type(exc).__name__, request_id, traceback.format_list(frames))
    _log_error(body, frames)
    return body


def _forget_shadowed(paths: tuple[str, ...]) -> None:
    """Modules the zygote preloaded (boto3 …) give way to copies the function ships in its code
    or layers, since /var/task and /opt come first on the Python path in Lambda."""
    preloaded = {key.partition(".")[0] for key in sys.modules}
    preloaded -= set(sys.stdlib_module_names) | {"basegear", "__main__"}
    shipped: set[str] = set()
    for path in paths:
        try:
            shipped.update(entry.partition(".")[0] for entry in os.listdir(path))
        except OSError:
            continue
    shadowed = preloaded & shipped
    for key in [k for k in sys.modules if k.partition(".")[0] in shadowed]:
        del sys.modules[key]


def _load_handler(init: InitMessage) -> Handler | dict[str, Any]:
    """Import the handler: the function or the init error Lambda reports (Runtime.* codes
    of the Python runtime)."""
    module_name, _, attribute = init.handler.rpartition(".")
    if not module_name or not attribute:
        message = f"Bad handler '{init.handler}': not enough values to unpack (expected 2, got 1)"
        body = _error(message, "Runtime.MalformedHandlerName", "", [])
        _log_error(body)
        return body
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        message = f"Syntax error in module '{module_name}': {exc}"
        body = _error(message, "Runtime.UserCodeSyntaxError", "", [])
    except ImportError as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        body = _error(message, "Runtime.ImportModuleError", "", [])
    except Exception as exc:
        return _user_error(exc, "")
    else:
        handler = getattr(module, attribute, None)
        if callable(handler):
            return handler  # type: ignore[no-any-return]
        message = f"Handler '{attribute}' missing on module '{module_name}'"
        body = _error(message, "Runtime.HandlerNotFound", "", [])
    _log_error(body)
    return body


def _initialise(init: InitMessage) -> Handler | dict[str, Any]:
    os.environ.clear()
    os.environ.update(init.environment)
    time.tzset()
    _forget_shadowed(init.paths)
    sys.path[:0] = [p for p in init.paths if p not in sys.path]
    importlib.invalidate_caches()
    os.chdir(init.task_root)
    _install_log_handler()
    return _load_handler(init)


def _encode_default(value: object) -> object:
    # AWS's Python runtime encodes Decimal (what boto3's DynamoDB resource returns) as a number.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# The process's peak resident memory, for REPORT's Max Memory Used. Linux answers RUSAGE_THREAD
# with the same peak (the memory is the process's), without adding up every thread's CPU time
# under a lock as RUSAGE_SELF does.
_RUSAGE = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)

# ``json.dumps(result, default=_encode_default)``, without making an encoder for every call.
_RESULT_ENCODER = json.JSONEncoder(default=_encode_default)


def _invoke(handler: Handler, call: Invocation) -> tuple[bool, bytes]:
    _REQUEST.request_id = call.request_id
    try:
        event = json.loads(call.payload) if call.payload else {}
        result = handler(event, LambdaContext(call))
    except Exception as exc:
        return False, json.dumps(_user_error(exc, call.request_id)).encode()
    try:
        body = _RESULT_ENCODER.encode(result).encode()
    except (TypeError, ValueError) as exc:
        error = _error(f"Unable to marshal response: {exc}", "Runtime.MarshalError", "", [])
        error["requestId"] = call.request_id
        _log_error(error)
        return False, json.dumps(error).encode()
    if len(body) > RESPONSE_LIMIT:
        message = (
            f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT} bytes)."
        )
        return False, json.dumps(
            {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
        ).encode()
    return True, body


def _redirect_output(log_fd: int) -> None:
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        stream = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False),
            encoding="utf-8",
            errors="backslashreplace",
            write_through=True,
        )
        setattr(sys, name, stream)


def serve(sock_fd: int, log_fd: int) -> NoReturn:
    """Run one execution environment until the runtime closes the socket."""
    _redirect_output(log_fd)
    conn = Channel(sock_fd)
    status = 0
    try:
        message, init = conn.recv()
        assert message == "init"
        started = time.perf_counter()
        loaded = _initialise(init)
        init_ms = (time.perf_counter() - started) * 1000
        if isinstance(loaded, dict):
            conn.send(("ready", init_ms, loaded))
            _exit(0)
        stamps = CodeStamps(init.watch_roots) if init.watch_roots else None
        if stamps is not None:
            stamps.take()
        conn.send(("ready", init_ms, None))
        while True:
            try:
                message, call = conn.recv()
            except EOFError:
                break
            if stamps is not None and stamps.stale():
                conn.send(("stale",))
                continue
            ok, body = _invoke(loaded, Invocation(*call))
            if stamps is not None:
                stamps.take()  # the handler may have imported more of its code
            max_rss = resource.getrusage(_RUSAGE).ru_maxrss
            conn.send(("result", ok, body, max_rss, os.fstat(1).st_size))
    except SystemExit as exc:  # sys.exit() in a handler ends the runtime, as on AWS
        status = exc.code if isinstance(exc.code, int) else 1
    except EOFError:
        status = 0
    _exit(status)


def _exit(status: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
