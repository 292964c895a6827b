"""moto's response side: method lookup, serialization and the per-request set-up, with less work.

Each feature keeps moto's own results: the same keys tried in the same order, the same
serialized bodies, the same header values.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from ._memo import MISSING, frozen, remember
from ._patcher import Patcher

RESPONSES = "moto.core.responses"
SERIALIZE = "moto.core.serialize"
#: The most values (dicts, lists, atoms) a result may hold to have its serialized form remembered.
SMALL_RESULT = 64


def method_names(p: Patcher) -> None:
    """``method_names_from_class``: ``inspect.getmembers`` of a response class on every request;
    a class's methods do not change, so the answer is kept per class."""
    responses = p.need(RESPONSES)
    original = p.need(RESPONSES, "method_names_from_class", params=("clazz",))
    p.set(responses, "method_names_from_class", functools.lru_cache(maxsize=None)(original))


def attribute_picker(p: Patcher) -> None:
    """Remember which keys moto's response serializer tries for a member of a plain ``dict``.

    For every member of every output structure, moto's ``AttributePicker`` asks its alias
    providers which keys to try. For an object whose type is exactly ``dict`` the answer depends
    only on the picker, the member's shape and its name, so the list of keys is kept per (picker
    class, providers, shape, name); the keys are then tried in the same order. Any other object
    goes the original way.
    """
    picker = p.need(SERIALIZE, "AttributePicker", kind=type)
    get_value = p.need(SERIALIZE, "get_value")
    missing = p.need(SERIALIZE, "MISSING")
    original = p.need(SERIALIZE, "AttributePicker.__call__", params=("self", "context"), names=(
        "MISSING", "endswith", "get_possible_keys", "get_value", "items", "key", "key_path", "obj",
        "response_transformers"))
    p.need(SERIALIZE, "AttributePicker.get_possible_keys", params=("self", "context"))
    keys_of: dict[tuple[Any, ...], tuple[Any, tuple[str, ...]]] = {}

    def call(self: Any, context: Any) -> Any:
        obj = context.obj
        if type(obj) is not dict:
            return original(self, context)
        shape = context.shape
        key = (type(self), tuple(self.alias_providers), id(shape), context.key)
        entry = keys_of.get(key)
        if entry is None or entry[0] is not shape:
            try:
                keys = tuple(self.get_possible_keys(context))
            except Exception:  # noqa: BLE001 - a provider moto would not have reached: its own way
                return original(self, context)
            entry = remember(keys_of, key, (shape, keys), limit=65536)
        value = None
        for possible_key in entry[1]:
            found = get_value(obj, possible_key, missing)
            if found is not missing:
                value = found
                break
        if self.response_transformers:
            key_path = f"{context.key_path}.{context.key}"
            for transform_path, transform in self.response_transformers.items():
                if key_path.endswith(transform_path):
                    return transform(value)
        return value

    p.set(picker, "__call__", call)


def serialized_results(p: Patcher) -> None:
    """Serialize a small JSON-protocol result once per (operation, result).

    For the JSON protocols moto's model-driven serializer depends only on the serializer class,
    the operation model, moto's pretty-print setting, the response class's key transformers and
    the result: for a result of at most :data:`SMALL_RESULT` plain values, the status, headers
    and body are kept and handed out again (the headers as a new dict: moto adds to them).
    Anything else (errors, larger results, timestamps, binary data, a response class with
    transformers) is serialized every time, as before.
    """
    action_result = p.need(RESPONSES, "ActionResult", kind=type)
    json_serializer = p.need(SERIALIZE, "BaseJSONSerializer", kind=type)
    settings = p.need("moto.settings")
    p.need("moto.settings", "PRETTIFY_RESPONSES")
    original = p.need(RESPONSES, "ActionResult.execute_result", params=("self", "context"))
    p.originals["ActionResult.execute_result"] = original
    cache: dict[Any, tuple[Any, Any, dict[str, Any], str]] = {}

    def execute_result(self: Any, context: Any) -> Any:
        serializer_class = context.serializer_class
        if not issubclass(serializer_class, json_serializer) or getattr(
                context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None):
            return original(self, context)
        image = frozen(self.result, [SMALL_RESULT])
        if image is MISSING:
            return original(self, context)
        operation = context.operation_model
        key = (serializer_class, id(operation), settings.PRETTIFY_RESPONSES, image)
        hit = cache.get(key)
        if hit is not None and hit[0] is operation:
            return hit[1], dict(hit[2]), hit[3]
        status, headers, body = original(self, context)
        if type(body) is str and type(headers) is dict and all(type(v) is str for v in headers.values()):
            remember(cache, key, (operation, status, dict(headers), body))
        return status, headers, body

    p.set(action_result, "execute_result", execute_result)


def _date_and_clock(p: Patcher, responses: Any) -> None:
    """The ``date`` header's text reused within a second; ``utcnow`` without its per-call import."""
    original_date = p.need(RESPONSES, "http_date")
    p.need(RESPONSES, "utcnow", params=(), names=("PYTHON_311", "UTC", "datetime", "now", "replace", "utcnow"))
    utc = datetime.UTC
    last: list[tuple[Any, str]] = [(None, "")]

    def utcnow() -> datetime.datetime:
        return datetime.datetime.now(utc).replace(tzinfo=None)

    def http_date(timestamp: Any = None) -> str:
        if type(timestamp) is not datetime.datetime or timestamp.tzinfo is not None:
            return str(original_date(timestamp))
        second = timestamp.replace(microsecond=0)
        entry = last[0]
        if entry[0] == second:
            return entry[1]
        text = str(original_date(timestamp))
        last[0] = (second, text)
        return text

    p.originals["http_date"] = original_date
    p.set(responses, "utcnow", utcnow)
    p.set(responses, "http_date", http_date)


def response_setup(p: Patcher) -> None:
    """moto's per-request response set-up: the same values, computed with less work.

    * the ``date`` header and ``utcnow`` (:func:`_date_and_clock`);
    * ``urlparse`` of the request URL: remembered per URL (its result is an immutable tuple);
    * the action's method name (``camelcase_to_underscores``, a function of the string alone):
      remembered per action;
    * ``_enrich_response``: moto puts the request id into ``<RequestId>`` elements of the body
      with a regular expression that can only match after ``<RequestId>``; a body without that
      text (every JSON body) is returned as it is without the search. The request id is drawn
      and set in the headers as before.
    """
    responses = p.need(RESPONSES)
    base = p.need(RESPONSES, "BaseResponse", kind=type)
    original_enrich = p.need(RESPONSES, "BaseResponse._enrich_response", params=("headers", "body"), names=(
        "Exception", "gen_amzn_requestid_long", "re", "str", "sub"))
    gen_request_id = p.need(RESPONSES, "gen_amzn_requestid_long")
    urlparse = p.need(RESPONSES, "urlparse")
    original_names = p.need(RESPONSES, "camelcase_to_underscores", params=("argument",))
    _date_and_clock(p, responses)

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if type(body) is not str or "<RequestId>" in body:
            return original_enrich(headers, body)
        if "status" in headers:
            headers["status"] = str(headers["status"])
        gen_request_id(headers)
        return headers, body

    method_names: dict[str, str] = {}

    def camelcase_to_underscores(argument: Any) -> Any:
        if type(argument) is not str or len(argument) > 256:
            return original_names(argument)
        found = method_names.get(argument)
        if found is None:
            found = remember(method_names, argument, original_names(argument))
        return found

    p.originals["camelcase_to_underscores"] = original_names
    p.originals["BaseResponse._enrich_response"] = original_enrich
    p.set(responses, "camelcase_to_underscores", camelcase_to_underscores)
    p.set(responses, "urlparse", functools.lru_cache(maxsize=1024)(urlparse))
    p.set(base, "_enrich_response", staticmethod(_enrich_response))
