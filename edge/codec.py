"""JSON <-> protobuf at the edge: proto3's JSON mapping, with API.md's rules.

Requests: the JSON body (on `body: "*"` routes), then the query string (by
JSON name), then the path (path wins), then the caller's ids from the token,
which overwrite whatever the client sent. Every bad value is a 400 naming the
field. Unknown properties are ignored (API.md 2.3); an enum takes only its
names, never its number or its `_UNSPECIFIED` zero value.

Responses: every field is present. Unset `optional` scalars and unset
messages are null, enum zero values are null, timestamps look like
`2025-01-01T00:00:00.000+00:00`, and `statusCode` / `errorMessage` come from
the Reply, not the response message (protos/README.md).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias, TypeGuard, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from common.errors import BadRequest, status_name
from edge.routes import Route
from workup_pb.envelope_pb2 import Reply

JsonValue: TypeAlias = (
    "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
)
JsonObject: TypeAlias = "dict[str, JsonValue]"

_F = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int]] = {
    _F.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    _F.CPPTYPE_UINT32: (0, 2**32 - 1),
    _F.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    _F.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_FLOAT_TYPES = frozenset({_F.CPPTYPE_DOUBLE, _F.CPPTYPE_FLOAT})
#: Largest finite 32-bit float; a `float` field beyond it is out of range.
_FLOAT32_MAX = 3.4028234663852886e38
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_NUMBER_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Request string fields named like these are dates (protos/README.md, "Dates").
_DATE_SUFFIXES = ("date", "_start", "_end")
#: Longest client value quoted back in an error message.
_PREVIEW_CHARS = 40


# --- request -------------------------------------------------------------


def decode_json_object(raw: bytes) -> dict[str, object]:
    """The JSON object in a request body.

    Raises:
        BadRequest: not UTF-8 JSON, nested too deeply, or not an object.
    """
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise BadRequest(
            f"Malformed JSON body: {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None
    except UnicodeDecodeError:
        raise BadRequest("Malformed JSON body: it is not valid UTF-8") from None
    except RecursionError:
        raise BadRequest("Malformed JSON body: it is nested too deeply") from None
    except ValueError:
        # Python refuses integers of more than 4300 digits (CVE-2020-10735).
        raise BadRequest("Malformed JSON body: a number has too many digits") from None
    if not isinstance(data, dict):
        raise BadRequest(f"Request body must be a JSON object, not {_kind(data)}")
    return data


def _reject_constant(name: str) -> object:
    raise BadRequest(f"Malformed JSON body: {name} is not a JSON value")


def build_request(
    route: Route,
    *,
    body: Mapping[str, object] | None,
    query: Iterable[tuple[str, str]],
    path_params: Mapping[str, str],
    caller_id: str,
) -> Message:
    """The command's request message, from every part of the HTTP request.

    Raises:
        BadRequest: a value does not fit its field; the message names the field.
    """
    message = route.request_class()
    if body is not None:
        _merge_object(message, body, "")
    _merge_query(message, query)
    _merge_path(message, path_params)
    for name in route.identity_fields:
        setattr(message, name, caller_id)
    return message


def _descriptor_of(message: Message) -> Descriptor:
    # The stubs say DESCRIPTOR is the pure-Python or the upb class; both have
    # the same API, and upb's passes isinstance checks against the former.
    return cast(Descriptor, message.DESCRIPTOR)


@functools.cache
def _fields_by_key(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    """Fields under their JSON name and their proto name; parsers take both."""
    fields = {field.name: field for field in descriptor.fields}
    fields.update({field.json_name: field for field in descriptor.fields})
    return fields


def _merge_object(message: Message, data: Mapping[str, object], prefix: str) -> None:
    fields = _fields_by_key(_descriptor_of(message))
    keys_seen: dict[str, str] = {}
    for key, value in data.items():
        field = fields.get(key)
        if field is None:
            continue
        if field.name in keys_seen:
            first = keys_seen[field.name]
            raise BadRequest(f"Field '{prefix}{key}' repeats field '{prefix}{first}'")
        keys_seen[field.name] = key
        if value is not None:
            _set_field(message, field, value, prefix + key)


def _set_field(
    message: Message, field: FieldDescriptor, value: object, name: str
) -> None:
    """Sets one field from JSON; `name` is its dotted path in the body."""
    if field.is_repeated:
        _set_repeated(message, field, value, name)
    elif field.message_type is not None:
        _merge_message(getattr(message, field.name), value, name)
    else:
        setattr(message, field.name, _scalar(field, value, f"Field '{name}'"))


def _set_repeated(
    message: Message, field: FieldDescriptor, value: object, name: str
) -> None:
    if not isinstance(value, list):
        raise BadRequest(f"Field '{name}' must be an array, not {_kind(value)}")
    container = getattr(message, field.name)
    for index, item in enumerate(value):
        item_name = f"{name}[{index}]"
        if item is None:
            raise BadRequest(f"Field '{item_name}' must not be null")
        if field.message_type is not None:
            _merge_message(container.add(), item, item_name)
        else:
            container.append(_scalar(field, item, f"Field '{item_name}'"))


def _merge_message(message: Message, value: object, name: str) -> None:
    if _descriptor_of(message).file.package == "google.protobuf":
        _parse_well_known(message, value, name)
        return
    if not isinstance(value, dict):
        raise BadRequest(f"Field '{name}' must be a JSON object, not {_kind(value)}")
    message.SetInParent()
    _merge_object(message, value, name + ".")


def _parse_well_known(message: Message, value: object, name: str) -> None:
    try:
        # ParseDict takes any JSON value for well-known types (a Timestamp is
        # a string), whatever its stub says.
        json_format.ParseDict(cast(Any, value), message)
    except json_format.ParseError as error:
        raise BadRequest(f"Field '{name}' is invalid: {error}") from None


def _scalar(field: FieldDescriptor, value: object, label: str) -> object:
    """A JSON value converted to the field's type, or a 400 naming the field."""
    kind = field.cpp_type
    if kind == _F.CPPTYPE_STRING:
        return _string(field, value, label)
    if kind == _F.CPPTYPE_BOOL:
        if not isinstance(value, bool):
            raise BadRequest(f"{label} must be true or false, not {_kind(value)}")
        return value
    if kind == _F.CPPTYPE_ENUM:
        return _enum_number(field, value, label)
    if kind in _FLOAT_TYPES:
        return _float(kind, value, label)
    return _integer(kind, value, label)


def _string(field: FieldDescriptor, value: object, label: str) -> str | bytes:
    if _is_date(field) and _is_number(value):
        return _epoch_ms_to_iso(value, label)
    if not isinstance(value, str):
        raise BadRequest(f"{label} must be a string, not {_kind(value)}")
    if field.type == _F.TYPE_BYTES:
        return _base64(value, label)
    return value


def _is_date(field: FieldDescriptor) -> bool:
    return field.type == _F.TYPE_STRING and field.name.endswith(_DATE_SUFFIXES)


def _epoch_ms_to_iso(millis: float, label: str) -> str:
    try:
        moment = _EPOCH + timedelta(milliseconds=millis)
    except (OverflowError, ValueError):
        raise BadRequest(f"{label} is out of range for a date") from None
    return moment.isoformat(timespec="milliseconds")


def _base64(value: str, label: str) -> bytes:
    standard = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{label} must be base64 text") from None


def _enum_number(field: FieldDescriptor, value: object, label: str) -> int:
    enum = _enum_of(field)
    known = enum.values_by_name.get(value) if isinstance(value, str) else None
    if known is None or known.number == 0:
        names = ", ".join(v.name for v in enum.values if v.number != 0)
        raise BadRequest(f"{label} must be one of {names}; got {_preview(value)}")
    return known.number


def _enum_of(field: FieldDescriptor) -> EnumDescriptor:
    if field.enum_type is None:
        raise TypeError(f"{field.full_name} is not an enum field")
    return field.enum_type


def _integer(kind: int, value: object, label: str) -> int:
    number = _as_integer(value)
    if number is None:
        raise BadRequest(f"{label} must be an integer; got {_preview(value)}")
    low, high = _INT_RANGES[kind]
    if not low <= number <= high:
        shown = _preview(number)
        raise BadRequest(f"{label} is out of range: {shown} is not in [{low}, {high}]")
    return number


def _as_integer(value: object) -> int | None:
    """A JSON number or numeric string as an int; None when it is not one."""
    if isinstance(value, str):
        return int(value) if _INTEGER_TEXT.fullmatch(value) else None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _float(kind: int, value: object, label: str) -> float:
    number = _as_float(value)
    if number is None:
        raise BadRequest(f"{label} must be a number; got {_preview(value)}")
    if not math.isfinite(number):
        raise BadRequest(f"{label} must be a finite number")
    if kind == _F.CPPTYPE_FLOAT and abs(number) > _FLOAT32_MAX:
        raise BadRequest(f"{label} is out of range for a 32-bit float")
    return number


def _as_float(value: object) -> float | None:
    if isinstance(value, str):
        return float(value) if _NUMBER_TEXT.fullmatch(value) else None
    if not _is_number(value):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer beyond any double
        return math.inf


def _merge_query(message: Message, query: Iterable[tuple[str, str]]) -> None:
    """Query values under a field's JSON (or proto) name; the first one wins."""
    fields = _fields_by_key(_descriptor_of(message))
    values: dict[str, tuple[str, FieldDescriptor, list[str]]] = {}
    for key, text in query:
        field = fields.get(key)
        if field is not None and field.message_type is None:
            values.setdefault(field.name, (key, field, []))[2].append(text)
    for key, field, texts in values.values():
        label = f"Query parameter '{key}'"
        if field.is_repeated:
            container = getattr(message, field.name)
            del container[:]
            container.extend(_from_text(field, text, label) for text in texts)
        else:
            setattr(message, field.name, _from_text(field, texts[0], label))


def _merge_path(message: Message, path_params: Mapping[str, str]) -> None:
    fields = _descriptor_of(message).fields_by_name
    for name, text in path_params.items():
        label = f"Path parameter '{name}'"
        setattr(message, name, _from_text(fields[name], text, label))


def _from_text(field: FieldDescriptor, text: str, label: str) -> object:
    """A query or path string converted to the field's type."""
    if field.cpp_type == _F.CPPTYPE_BOOL:
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise BadRequest(f"{label} must be true or false; got {_preview(text)}")
        return lowered == "true"
    return _scalar(field, text, label)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    """What a JSON value is, in JSON's words, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _preview(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, dict | list) else _kind(value)
    if len(text) > _PREVIEW_CHARS:
        return text[: _PREVIEW_CHARS - 3] + "..."
    return text


# --- response ------------------------------------------------------------


def render_reply(response: Message, reply: Reply) -> JsonObject:
    """The HTTP body of a normal route: statusCode, errorMessage, every field."""
    body: JsonObject = {
        "statusCode": status_name(reply.status),
        "errorMessage": reply_error_message(reply),
    }
    body.update(render_message(response))
    return body


def reply_error_message(reply: Reply) -> str | None:
    return reply.error_message if reply.HasField("error_message") else None


def auth_body(token: str | None, error_message: str | None) -> JsonObject:
    """The only body of login and register routes (API.md 4.3, AuthResponse)."""
    return {"authToken": token, "errorMessage": error_message}


def render_message(message: Message) -> JsonObject:
    """Every field of a message under its JSON name, nulls included."""
    return {
        field.json_name: _render_field(message, field)
        for field in _descriptor_of(message).fields
    }


def _render_field(message: Message, field: FieldDescriptor) -> JsonValue:
    value = getattr(message, field.name)
    if field.is_repeated:
        return [_render_value(field, item) for item in value]
    if field.has_presence and not message.HasField(field.name):
        return None
    return _render_value(field, value)


def _render_value(field: FieldDescriptor, value: object) -> JsonValue:
    if isinstance(value, Message):
        return _render_submessage(value)
    if field.enum_type is not None:
        return _render_enum(field, value)
    if field.cpp_type in _FLOAT_TYPES:
        return _render_float(value)
    if field.cpp_type in (_F.CPPTYPE_INT64, _F.CPPTYPE_UINT64):
        return str(value)  # proto3 JSON: 64-bit integers are strings
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str | bool | int):
        return value
    raise TypeError(f"Cannot render {field.full_name} of type {type(value)}")


def _render_submessage(message: Message) -> JsonValue:
    if isinstance(message, Timestamp):
        return render_timestamp(message)
    if _descriptor_of(message).file.package == "google.protobuf":
        rendered: JsonValue = json_format.MessageToDict(message)
        return rendered
    return render_message(message)


def render_timestamp(timestamp: Timestamp) -> str:
    """ISO-8601 UTC with milliseconds and a numeric offset (API.md 2.3)."""
    moment = timestamp.ToDatetime(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")


def _render_enum(field: FieldDescriptor, number: object) -> JsonValue:
    if not isinstance(number, int) or number == 0:
        return None
    value = _enum_of(field).values_by_number.get(number)
    return value.name if value is not None else number


def _render_float(value: object) -> JsonValue:
    if not isinstance(value, float | int):
        raise TypeError(f"Expected a number, got {type(value)}")
    number = float(value)
    if math.isfinite(number):
        return number
    # proto3 JSON spells these as strings; bare NaN is not JSON.
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"
