"""Java semantics for API Gateway mapping templates: what a template sees of a value.

API Gateway runs mapping templates on Apache Velocity (Java), so a template's values behave as
Java objects: strings have ``java.lang.String`` methods, JSON objects are ``Map``\\ s, booleans
print as ``true``/``false``, ``1`` stays ``1`` (API Gateway developer guide, "Mapping template
reference"; Velocity 1.7 user guide). This module gives Python values that behaviour:

- :func:`java_member` — the only way a template reaches into a value: ``$x.name`` and
  ``$x.name(args)`` are looked up in explicit tables of Java methods per kind of value (string,
  number, boolean, map, list) or in a :class:`VtlObject`'s own ``member``; nothing else, so no
  template reaches Python internals (``__class__``, ``_private``, ``format`` …);
- :func:`java_string` — ``toString()`` as Velocity prints a value;
- :func:`java_truth` and :data:`JAVA_OPERATORS` — ``#if`` and the operators of Velocity 1.7;
- the ``$util`` functions (``escape_javascript`` …) with the Java library behaviour they
  stand for.

A failure a template should see as an error raises :class:`VtlRuntimeError`; a method that
Java would not find (unknown name, wrong argument count or types) gives null, as Velocity does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus

MAX_STRING = 10 * 1024 * 1024
"""The longest string a template may build or output: API Gateway's 10 MB payload quota
(developer guide, "Amazon API Gateway quotas", REST API "Payload size")."""


class VtlRuntimeError(Exception):
    """An error in a template's evaluation, worded for the template's author."""


class NoSuchMethodError(Exception):
    """Java finds no method of that name for these arguments: the reference is null."""


class VtlObject:
    """A value that BaseGear puts in a template's namespace (``$input``, ``$util`` …).
    Templates reach it only through :meth:`member`."""

    def member(self, name: str, args: list[Any] | None) -> Any:
        """``$object.name`` (``args`` None) or ``$object.name(args)``; None when there is no such
        member."""
        return None

    def java_string(self) -> str:
        """How the object prints. Velocity would print a Java object's identity; nothing is
        more useful."""
        return ""


class JsonList(list[Any]):
    """A JSON array from the payload (``$input.path``, ``$util.parseJson``). API Gateway reads
    JSON with Jayway JsonPath on json-smart, whose arrays print as JSON text (``[{"c":5}]``),
    unlike a template's own ``[1, 2]`` literal, a Java ``ArrayList`` that prints ``[1, 2]``."""


def checked(text: str) -> str:
    if len(text) > MAX_STRING:
        raise VtlRuntimeError(f"the template built a string longer than {MAX_STRING} characters")
    return text


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- toString ----------------------------------------------------------------------------------


def java_double(value: float) -> str:
    """``Double.toString``: ``1.0``, ``0.001``, ``1.0E7``, ``1.5E-5``, ``NaN``, ``Infinity``
    (plain notation from 10^-3 up to 10^7, computerized scientific notation outside)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    shortest = Decimal(repr(value))
    digits = "".join(str(digit) for digit in shortest.as_tuple().digits).rstrip("0") or "0"
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{shortest.adjusted()}"


def java_string(value: Any) -> str:
    """``String.valueOf(value)`` as Velocity prints it. Maps print as ``{key=value, …}``
    (``java.util.LinkedHashMap``), JSON arrays as JSON, template lists as ``[a, b]``."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Mapping):
        items = (f"{java_string(key)}={java_string(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, JsonList):
        return json_text(value)
    if isinstance(value, list):
        return "[" + ", ".join(java_string(item) for item in value) + "]"
    if isinstance(value, VtlObject):
        return value.java_string()
    return ""


def json_text(value: Any) -> str:
    """Compact JSON, as json-smart writes it for ``$input.json`` (numbers as Java prints them)."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, Mapping):
        pairs = (f"{json_text(java_string(key))}:{json_text(item)}" for key, item in value.items())
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    return "null"


def from_json(value: Any) -> Any:
    """Parsed JSON (plain dicts and lists) as template values: fresh dicts and JsonLists."""
    if isinstance(value, dict):
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return JsonList(from_json(item) for item in value)
    return value


def parse_json(text: str) -> Any:
    try:
        return from_json(json.loads(text))
    except RecursionError as exc:
        raise VtlRuntimeError("the JSON is nested too deeply") from exc


# -- #if and operators (Velocity 1.7) ------------------------------------------------------------


def java_truth(value: Any) -> bool:
    """Velocity 1.7 user guide, "#if": true for a boolean true or any other non-null value
    (an empty string or list is true; null and false are not)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    return True


def java_equals(left: Any, right: Any) -> bool:
    """Velocity 1.7 ``==``: numbers compare by value, nulls equal only null, values of different
    classes compare by their ``toString()``."""
    if left is None or right is None:
        return left is None and right is None
    if is_number(left) and is_number(right):
        return bool(left == right)
    if type(left) is type(right) or (isinstance(left, list) and isinstance(right, list)):
        return bool(left == right)
    return java_string(left) == java_string(right)


def _add(left: Any, right: Any) -> Any:
    # Velocity 1.7: a String on either side concatenates the toString() of both.
    if isinstance(left, str) or isinstance(right, str):
        left_text = "" if left is None else java_string(left)
        right_text = "" if right is None else java_string(right)
        return checked(left_text + right_text)
    if is_number(left) and is_number(right):
        return left + right
    return None


def _numbers_only(operation: Callable[[Any, Any], Any], otherwise: Any) -> Callable[..., Any]:
    """Velocity 1.7 math and comparisons take numbers only: anything else (null included) gives
    null for math, false for a comparison."""
    return lambda a, b: operation(a, b) if is_number(a) and is_number(b) else otherwise


def _divide(left: int | float, right: int | float) -> Any:
    if right == 0:
        return None  # Velocity logs "Right side of division operation is zero" and gives null
    if isinstance(left, int) and isinstance(right, int):
        quotient = abs(left) // abs(right)  # Java integer division truncates toward zero
        return quotient if (left >= 0) == (right >= 0) else -quotient
    return left / right


def _remainder(left: int | float, right: int | float) -> Any:
    if right == 0:
        return None
    if isinstance(left, int) and isinstance(right, int):
        rest = abs(left) % abs(right)  # Java's remainder takes the sign of the dividend
        return rest if left >= 0 else -rest
    return math.fmod(left, right)


JAVA_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": _add,
    "-": _numbers_only(operator.sub, None),
    "*": _numbers_only(operator.mul, None),
    "/": _numbers_only(_divide, None),
    "%": _numbers_only(_remainder, None),
    "==": java_equals,
    "!=": lambda a, b: not java_equals(a, b),
    ">": _numbers_only(operator.gt, False),
    ">=": _numbers_only(operator.ge, False),
    "<": _numbers_only(operator.lt, False),
    "<=": _numbers_only(operator.le, False),
    "&&": lambda a, b: java_truth(a) and java_truth(b),
    "||": lambda a, b: java_truth(a) or java_truth(b),
}
JAVA_OPERATORS.update(
    (word, JAVA_OPERATORS[symbol])
    for word, symbol in [("eq", "=="), ("ne", "!="), ("gt", ">"), ("ge", ">="), ("lt", "<"),
                         ("le", "<="), ("and", "&&"), ("or", "||")]
)  # fmt: skip


def java_not(value: Any) -> bool:
    return not java_truth(value)


# -- Java regular expressions --------------------------------------------------------------------


def java_regex(pattern: Any) -> re.Pattern[str]:
    """A ``java.util.regex.Pattern``; the common syntax is shared with Python's ``re``."""
    text = _need_str(pattern)
    try:  # Java names a group (?<name>…), Python (?P<name>…)
        return re.compile(re.sub(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", r"(?P<\1>", text))
    except (re.error, OverflowError, RecursionError) as exc:
        raise VtlRuntimeError(f"invalid regular expression {text!r}: {exc}") from exc


_REPLACEMENT_PART = re.compile(r"\\(.)|\$\{([A-Za-z][A-Za-z0-9]*)\}|\$(\d+)|(\$)", re.S)


def _expand_java_replacement(replacement: str, match: re.Match[str]) -> str:
    """``Matcher.appendReplacement``: ``$n`` and ``${name}`` insert groups, ``\\x`` is ``x``;
    of ``$12`` Java takes the most digits that still name a group."""

    def part(found: re.Match[str]) -> str:
        escaped, name, digits, lone = found.groups()
        if escaped is not None:
            return str(escaped)
        if lone is not None:
            raise VtlRuntimeError(f"illegal group reference in replacement {replacement!r}")
        length = len(digits or "")
        while length > 1 and int(digits[:length]) > match.re.groups:
            length -= 1
        group: str | int = name if name is not None else int(digits[:length])
        try:
            return str(match.group(group) or "") + (digits or "")[length:]
        except IndexError as exc:
            raise VtlRuntimeError(f"no group {group} in the regular expression") from exc

    return _REPLACEMENT_PART.sub(part, replacement)


def _replace_regex(text: str, pattern: Any, replacement: Any, count: int) -> str:
    regex = java_regex(pattern)
    template = _need_str(replacement)
    return checked(regex.sub(lambda m: _expand_java_replacement(template, m), text, count=count))


def _split(text: str, pattern: Any, limit: Any = 0) -> list[str]:
    """``String.split(regex[, limit])``: trailing empty strings dropped when ``limit`` is 0; a
    zero-width match at the start never yields a leading empty string (Java 8+)."""
    regex = java_regex(pattern)
    limit = _need_int(limit)
    if text == "":
        return [""]
    parts: list[str] = []
    position = 0
    for match in regex.finditer(text):
        if limit > 0 and len(parts) == limit - 1:
            break
        if match.end() == 0:
            continue
        parts.append(text[position : match.start()])
        position = match.end()
    parts.append(text[position:])
    if limit == 0:
        while len(parts) > 1 and parts[-1] == "":
            parts.pop()
    return parts


# -- method tables -------------------------------------------------------------------------------


def _need_str(value: Any) -> str:
    if not isinstance(value, str):
        raise NoSuchMethodError
    return value


def _need_int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise NoSuchMethodError
    return value


def _substring(text: str, begin: Any, end: Any = None) -> str:
    start = _need_int(begin)
    stop = len(text) if end is None else _need_int(end)
    if start < 0 or stop > len(text) or start > stop:
        raise VtlRuntimeError(
            f"substring({start}, {stop}) is out of range for a string of length {len(text)}"
        )
    return text[start:stop]


def _index_of(text: str, needle: Any, start: Any = 0) -> int:
    return text.find(_need_str(needle), max(0, _need_int(start)))


def _char_at(text: str, index: Any) -> str:
    position = _need_int(index)
    if not 0 <= position < len(text):
        raise VtlRuntimeError(
            f"charAt({position}) is out of range for a string of length {len(text)}"
        )
    return text[position]


def _starts_with(text: str, prefix: Any, offset: Any = 0) -> bool:
    start = _need_int(offset)
    return 0 <= start <= len(text) and text.startswith(_need_str(prefix), start)


_JAVA_WHITESPACE = "".join(chr(code) for code in range(33))  # String.trim: every char <= ' '

Method = Callable[..., Any]

STRING_METHODS: dict[str, Method] = {
    "length": lambda s: len(s),
    "isEmpty": lambda s: s == "",
    "toUpperCase": lambda s: s.upper(),
    "toLowerCase": lambda s: s.lower(),
    "trim": lambda s: s.strip(_JAVA_WHITESPACE),
    "substring": _substring,
    "charAt": _char_at,
    "indexOf": _index_of,
    "lastIndexOf": lambda s, needle: s.rfind(_need_str(needle)),
    "contains": lambda s, needle: _need_str(needle) in s,
    "startsWith": _starts_with,
    "endsWith": lambda s, suffix: s.endswith(_need_str(suffix)),
    "equals": lambda s, other: isinstance(other, str) and s == other,
    "equalsIgnoreCase": lambda s, other: isinstance(other, str) and s.lower() == other.lower(),
    "concat": lambda s, other: checked(s + _need_str(other)),
    "replace": lambda s, old, new: checked(s.replace(_need_str(old), _need_str(new))),
    "replaceAll": lambda s, pattern, new: _replace_regex(s, pattern, new, 0),
    "replaceFirst": lambda s, pattern, new: _replace_regex(s, pattern, new, 1),
    "matches": lambda s, pattern: java_regex(pattern).fullmatch(s) is not None,
    "split": _split,
    "toString": lambda s: s,
}

NUMBER_METHODS: dict[str, Method] = {
    "toString": java_string,
    "equals": lambda n, other: type(n) is type(other) and n == other,
    "intValue": lambda n: int(n) if math.isfinite(n) else 0,
    "longValue": lambda n: int(n) if math.isfinite(n) else 0,
    "doubleValue": lambda n: float(n),
}

BOOLEAN_METHODS: dict[str, Method] = {
    "toString": java_string,
    "equals": lambda b, other: isinstance(other, bool) and b == other,
    "booleanValue": lambda b: b,
}


def _map_put(mapping: dict[Any, Any], key: Any, value: Any) -> Any:
    previous = mapping.get(key)
    mapping[key] = value
    return previous


def _map_put_all(mapping: dict[Any, Any], other: Any) -> None:
    if not isinstance(other, Mapping):
        raise NoSuchMethodError
    mapping.update(other)


MAP_METHODS: dict[str, Method] = {
    "size": lambda m: len(m),
    "isEmpty": lambda m: not m,
    "get": lambda m, key: m.get(key) if _hashable(key) else None,
    "containsKey": lambda m, key: _hashable(key) and key in m,
    "containsValue": lambda m, value: any(java_equals(item, value) for item in m.values()),
    "keySet": lambda m: list(m.keys()),
    "values": lambda m: list(m.values()),
    "entrySet": lambda m: [MapEntry(key, value) for key, value in m.items()],
    "put": lambda m, key, value: _map_put(m, key, value) if _hashable(key) else None,
    "putAll": _map_put_all,
    "remove": lambda m, key: m.pop(key, None) if _hashable(key) else None,
    "toString": java_string,
    "equals": lambda m, other: isinstance(other, Mapping) and m == other,
}


def _list_get(items: list[Any], index: Any) -> Any:
    position = _need_int(index)
    if not 0 <= position < len(items):
        raise VtlRuntimeError(f"get({position}) is out of range for a list of size {len(items)}")
    return items[position]


def _list_set(items: list[Any], index: Any, value: Any) -> Any:
    previous = _list_get(items, index)
    items[index] = value
    return previous


def _list_remove(items: list[Any], index: Any) -> Any:
    previous = _list_get(items, index)
    del items[index]
    return previous


def _list_add(items: list[Any], *args: Any) -> Any:
    if len(items) >= MAX_STRING:
        raise VtlRuntimeError("the template built a list that is too long")
    if len(args) == 1:
        items.append(args[0])
        return True  # Collection.add returns true; Velocity prints it where it is called
    position = _need_int(args[0])
    if not 0 <= position <= len(items):
        raise VtlRuntimeError(f"add({position}, …) is out of range for a list of size {len(items)}")
    items.insert(position, args[1])
    return None


def _list_add_all(items: list[Any], other: Any) -> bool:
    if not isinstance(other, list):
        raise NoSuchMethodError
    if len(items) + len(other) > MAX_STRING:
        raise VtlRuntimeError("the template built a list that is too long")
    items.extend(other)
    return True


def _list_index_of(items: list[Any], value: Any) -> int:
    return next((i for i, item in enumerate(items) if java_equals(item, value)), -1)


def _sub_list(items: list[Any], begin: Any, end: Any) -> list[Any]:
    start, stop = _need_int(begin), _need_int(end)
    if start < 0 or stop > len(items) or start > stop:
        raise VtlRuntimeError(f"subList({start}, {stop}) is out of range for size {len(items)}")
    return items[start:stop]


LIST_METHODS: dict[str, Method] = {
    "size": lambda items: len(items),
    # Not java.util.List, but documented for $input.path results (mapping template
    # reference, "$input.path(x)": "$input.path('$.pets').count() would return "3"").
    "count": lambda items: len(items),
    "isEmpty": lambda items: not items,
    "get": _list_get,
    "set": _list_set,
    "add": _list_add,
    "addAll": _list_add_all,
    "contains": lambda items, value: _list_index_of(items, value) >= 0,
    "indexOf": _list_index_of,
    "remove": _list_remove,
    "subList": _sub_list,
    "toString": java_string,
    "equals": lambda items, other: isinstance(other, list) and items == other,
}


@functools.cache
def _arity(method: Method) -> tuple[int, int]:
    """How many arguments a Java method takes besides its target (Velocity finds no method for
    another count)."""
    parameters = list(inspect.signature(method).parameters.values())[1:]
    if any(parameter.kind is parameter.VAR_POSITIONAL for parameter in parameters):
        return (1, 2)
    required = sum(parameter.default is parameter.empty for parameter in parameters)
    return (required, len(parameters))


def _hashable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)


class MapEntry(VtlObject):
    """One ``Map.Entry`` of ``$map.entrySet()``: ``$entry.key``, ``$entry.value``."""

    def __init__(self, key: Any, value: Any) -> None:
        self._key = key
        self._value = value

    def member(self, name: str, args: list[Any] | None) -> Any:
        if (name, args) in (("key", None), ("getKey", [])):
            return self._key
        if (name, args) in (("value", None), ("getValue", [])):
            return self._value
        return None

    def java_string(self) -> str:
        return f"{java_string(self._key)}={java_string(self._value)}"


def _methods_of(value: Any) -> Mapping[str, Method]:
    if isinstance(value, str):
        return STRING_METHODS
    if isinstance(value, bool):
        return BOOLEAN_METHODS
    if is_number(value):
        return NUMBER_METHODS
    if isinstance(value, dict):
        return MAP_METHODS
    if isinstance(value, list):
        return LIST_METHODS
    return {}


def java_member(target: Any, name: str, args: list[Any] | None) -> Any:
    """``$target.name`` (``args`` None) or ``$target.name(args)`` with Velocity's lookup:
    a map's property is its entry (data, so ``$item._id`` works); anything else is a Java
    method from the tables above or a VtlObject's member, never a name that starts with ``_``."""
    if target is None:
        return None
    if args is None and isinstance(target, dict):
        return target.get(name)
    if name.startswith("_"):
        return None
    if isinstance(target, VtlObject):
        return target.member(name, args)
    if args is None:
        return None
    method = _methods_of(target).get(name)
    if method is None:
        return None
    fewest, most = _arity(method)
    if not fewest <= len(args) <= most:
        return None
    try:
        return method(target, *args)
    except NoSuchMethodError:
        return None


def java_index(container: Any, key: Any) -> Any:
    """``$list[0]`` and ``$map['key']`` (Velocity 1.7 index notation); null when absent."""
    if isinstance(container, list) and isinstance(key, int) and not isinstance(key, bool):
        return container[key] if 0 <= key < len(container) else None
    if isinstance(container, dict) and _hashable(key):
        return container.get(key)
    if isinstance(container, VtlObject) and isinstance(key, str):
        return container.member(key, None)
    return None


# -- $util -------------------------------------------------------------------------------------


def escape_javascript(text: str) -> str:
    """``$util.escapeJavaScript``: Apache Commons Lang ``StringEscapeUtils.escapeJavaScript``
    — quotes, backslash and ``/`` get a backslash, control characters their short escape or
    ``\\u00XX``, and every non-ASCII UTF-16 unit ``\\uXXXX`` (upper-case hex). The mapping
    template reference notes the ``\\'`` this makes is not valid JSON."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:  # Java sees a surrogate pair: two escapes
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
        elif code > 0x7F:
            out.append(f"\\u{code:04X}")
        elif code < 32:
            out.append(_CONTROL_ESCAPES.get(char) or f"\\u{code:04X}")
        else:
            out.append(_QUOTED_ESCAPES.get(char, char))
    return checked("".join(out))


_CONTROL_ESCAPES = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
_QUOTED_ESCAPES = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}


def url_encode(text: str) -> str:
    """``$util.urlEncode``: ``java.net.URLEncoder.encode(s, "UTF-8")`` — letters, digits and
    ``.-*_`` stay, a space becomes ``+``, everything else ``%XX`` of its UTF-8 bytes."""
    encoded = quote_plus(text.encode("utf-8", "replace"), safe="*")
    return checked(encoded.replace("~", "%7E"))


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def url_decode(text: str) -> str:
    """``$util.urlDecode``: ``java.net.URLDecoder.decode(s, "UTF-8")``; ``+`` is a space and a
    ``%`` without two hex digits is an error."""
    bad = _BAD_PERCENT.search(text)
    if bad:
        raise VtlRuntimeError(
            f"urlDecode: incomplete escape {text[bad.start() : bad.start() + 3]!r} at "
            f"position {bad.start()}: expected % followed by two hex digits"
        )
    return unquote_plus(text, errors="replace")


def base64_encode(text: str) -> str:
    """``$util.base64Encode``: the UTF-8 bytes in standard Base64 with padding."""
    return checked(base64.b64encode(text.encode("utf-8", "replace")).decode("ascii"))


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def base64_decode(text: str) -> str:
    """``$util.base64Decode``: ``java.util.Base64`` basic decoder (padding optional), read as
    UTF-8."""
    if not _BASE64.fullmatch(text) or len(text.rstrip("=")) % 4 == 1:
        raise VtlRuntimeError(f"base64Decode: {text[:40]!r} is not Base64 (A-Z a-z 0-9 + / and =)")
    padded = text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4)
    try:
        return base64.b64decode(padded, validate=True).decode("utf-8", "replace")
    except binascii.Error as exc:
        raise VtlRuntimeError(f"base64Decode: {text[:40]!r} is not Base64: {exc}") from exc
