"""moto's JSON-protocol request parsing, its walk of the input shape written out once per shape.

For every request moto walks the operation's input shape over the decoded JSON body
(``RequestParser._parse_shape``): per value a ``getattr`` of the handler by the shape's type
name, per structure member a lookup of its shape and its serialized name, for each of the ten
members of every DynamoDB ``AttributeValue``. What that walk does depends only on the shape and
the parser's map type, so it is turned into one function per (shape, map type) doing the same
steps in the same order: members in the shape's order, a member whose value is absent or null
skipped, a null structure kept as None, document types untouched, lists and maps rebuilt (key
before value), blobs, timestamps, floats and integers through moto's own converters, every
other type as decoded. Only for ``JSONParser`` itself with moto's default blob and timestamp
parsers, and only when its handlers are the ones this was written against.
"""

from __future__ import annotations

import threading
from typing import Any

from ._patcher import Patcher, Unavailable

PARSE = "moto.core.parse"
#: ``JSONParser``'s ``_parse_*`` handlers and the class each one comes from (what the walk replaces).
HANDLERS = {
    "_parse_blob": "BaseJSONParser._parse_blob", "_parse_body_as_json": "BaseJSONParser._parse_body_as_json",
    "_parse_byte": "BaseJSONParser._parse_integer", "_parse_double": "BaseJSONParser._parse_float",
    "_parse_float": "BaseJSONParser._parse_float", "_parse_integer": "BaseJSONParser._parse_integer",
    "_parse_json_body": "JSONParser._parse_json_body", "_parse_list": "RequestParser._parse_list",
    "_parse_long": "BaseJSONParser._parse_integer", "_parse_map": "RequestParser._parse_map",
    "_parse_shape": "RequestParser._parse_shape", "_parse_short": "BaseJSONParser._parse_integer",
    "_parse_structure": "BaseJSONParser._parse_structure", "_parse_timestamp": "BaseJSONParser._parse_timestamp",
}
_PLAN_LIMIT = 65536


def _key_of(shape: Any, map_type: Any) -> tuple[tuple[Any, Any, Any], Any]:
    """A shape's key: botocore makes a new Shape object for each reference to a named shape (a
    recursive shape never ends), so a shape is known by its model's resolver and its name."""
    resolver = shape._shape_resolver  # noqa: SLF001
    return (id(resolver), shape.name, map_type), resolver


class _Planner:
    """Builds (and keeps) the parse function of each (shape, map type)."""

    def __init__(self, scalars: dict[str, Any]) -> None:
        self.scalars = scalars
        self.plans: dict[tuple[Any, ...], tuple[Any, Any]] = {}
        self.lock = threading.Lock()

    def plan(self, shape: Any, map_type: Any) -> Any:
        key, resolver = _key_of(shape, map_type)
        entry = self.plans.get(key)
        if entry is not None and entry[0] is resolver:
            return entry[1]
        with self.lock:
            building: dict[tuple[Any, ...], tuple[Any, Any]] = {}
            function = self.build(shape, map_type, building)
            if len(self.plans) >= _PLAN_LIMIT:
                self.plans.clear()
            self.plans.update(building)  # published once every function in it is complete
        return function

    def build(self, shape: Any, map_type: Any, building: dict[tuple[Any, ...], tuple[Any, Any]]) -> Any:
        key, resolver = _key_of(shape, map_type)
        entry = building.get(key) or self.plans.get(key)
        if entry is not None and entry[0] is resolver:
            return entry[1]
        kind = shape.type_name
        if kind == "structure" and not shape.is_document_type:
            return self._structure(shape, map_type, building, (key, resolver))
        if kind == "list":
            return self._list(shape, map_type, building, (key, resolver))
        if kind == "map":
            return self._map(shape, map_type, building, (key, resolver))
        function = self.scalars.get(kind)
        building[key] = (resolver, function)
        return function

    def _structure(self, shape: Any, map_type: Any, building: dict[Any, Any], known: tuple[Any, Any]) -> Any:
        members: list[tuple[str, str, Any]] = []

        def structure(value: Any) -> Any:
            if value is None:
                return None
            parsed = map_type()
            for name, json_name, member in members:
                raw = value.get(json_name)
                if raw is not None:
                    parsed[name] = raw if member is None else member(raw)
            return parsed

        building[known[0]] = (known[1], structure)  # before the members: shapes can be recursive
        for name, member_shape in shape.members.items():
            members.append((name, member_shape.serialization.get("name", name),
                            self.build(member_shape, map_type, building)))
        return structure

    def _list(self, shape: Any, map_type: Any, building: dict[Any, Any], known: tuple[Any, Any]) -> Any:
        item: list[Any] = [None]  # filled below: the member's shape can lead back here

        def list_(node: Any) -> Any:
            parse_item = item[0]
            if parse_item is None:
                return [value for value in node]  # noqa: C416 - moto iterates, whatever node is
            return [parse_item(value) for value in node]

        building[known[0]] = (known[1], list_)
        item[0] = self.build(shape.member, map_type, building)
        return list_

    def _map(self, shape: Any, map_type: Any, building: dict[Any, Any], known: tuple[Any, Any]) -> Any:
        parts: list[Any] = [None, None]  # filled below: the value's shape can lead back here

        def map_(value: Any) -> Any:
            key_of, value_of = parts
            parsed = map_type()
            for raw_key, raw_value in value.items():
                actual_key = raw_key if key_of is None else key_of(raw_key)
                parsed[actual_key] = raw_value if value_of is None else value_of(raw_value)
            return parsed

        building[known[0]] = (known[1], map_)
        parts[:] = [self.build(shape.key, map_type, building), self.build(shape.value, map_type, building)]
        return map_


def json_request_parser(p: Patcher) -> None:
    """``JSONParser._parse_json_body`` by per-shape functions (see the module docstring)."""
    parser_class = p.need(PARSE, "JSONParser", kind=type)
    handlers = {n: getattr(parser_class, n).__qualname__ for n in dir(parser_class) if n.startswith("_parse_")}
    if handlers != HANDLERS:
        changed = sorted(n for n in set(handlers) | set(HANDLERS) if handlers.get(n) != HANDLERS.get(n))
        raise Unavailable(f"{PARSE}.JSONParser's handlers differ ({', '.join(changed)})")
    original = p.need(PARSE, "JSONParser._parse_json_body", params=("self", "raw_body", "shape"),
                      names=("_parse_body_as_json", "_parse_shape"))
    blob, timestamp = p.need(PARSE, "default_blob_parser"), p.need(PARSE, "default_timestamp_parser")
    undefined = p.need(PARSE, "UNDEFINED")

    def as_float(value: Any) -> Any:
        return value if value is undefined else float(value)

    def as_int(value: Any) -> Any:
        return value if value is undefined else int(value)

    planner = _Planner({"blob": blob, "timestamp": timestamp, "float": as_float, "double": as_float,
                        "integer": as_int, "byte": as_int, "short": as_int, "long": as_int})

    def _parse_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        if type(self) is not parser_class or self._blob_parser is not blob or self._timestamp_parser is not timestamp:
            return original(self, raw_body, shape)
        parsed_json = self._parse_body_as_json(raw_body)
        function = planner.plan(shape, self.MAP_TYPE)
        return parsed_json if function is None else function(parsed_json)

    p.originals["JSONParser._parse_json_body"] = original
    p.set(parser_class, "_parse_json_body", _parse_json_body)
