"""The AWS query protocol as CloudFormation speaks it: form-encoded parameters in, XML out.

Requests flatten structures with dots and lists with ``.member.N`` (botocore's QuerySerializer);
responses wrap the result in ``<ActionResponse><ActionResult>`` with lists as ``<member>``
elements and errors as ``<ErrorResponse><Error>`` — the shapes of the CloudFormation API
reference ("Common query parameters", "Common errors")."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def parse_params(query: Mapping[str, list[str]], body: bytes) -> dict[str, Any]:
    """Query-string and form parameters as nested dicts and lists."""
    flat: dict[str, str] = {key: values[-1] for key, values in query.items() if values}
    if body:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        flat.update({key: values[-1] for key, values in form.items()})
    tree: dict[str, Any] = {}
    for key, value in flat.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # "X=" (an empty list) and "X.member.1" together
                child = node[part] = {}
            node = child
        node.setdefault(parts[-1], value)
    parsed: dict[str, Any] = _lists(tree)
    return parsed


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        members = node["member"]
        return [_lists(members[key]) for key in sorted(members, key=_index)]
    if set(node) == {"entry"} and isinstance(node["entry"], dict):
        entries = node["entry"]
        return {
            entry.get("key"): _lists(entry.get("value"))
            for entry in (entries[key] for key in sorted(entries, key=_index))
        }
    return {key: _lists(value) for key, value in node.items()}


def _index(key: str) -> int:
    return int(key) if key.isdigit() else 0


def as_list(value: Any) -> list[Any]:
    """A list parameter: botocore sends an empty list as ``Name=``."""
    if value in (None, ""):
        return []
    return value if isinstance(value, list) else [value]


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _xml(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        inner = "".join(_xml(key, item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        inner = "".join(_xml("member", item) for item in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    elif isinstance(value, datetime):
        inner = timestamp(value)
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def response(action: str, result: Mapping[str, Any] | None) -> bytes:
    request_id = str(uuid.uuid4())
    body = _xml(f"{action}Result", dict(result or {}))
    return (
        f'<{action}Response xmlns="{NAMESPACE}">{body}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def error(code: str, message: str) -> bytes:
    request_id = str(uuid.uuid4())
    return (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
