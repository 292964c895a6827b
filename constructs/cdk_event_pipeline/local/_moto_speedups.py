"""Make moto's per-request work cheaper in this process, without changing what it answers.

Profiling the order pipeline (docs/benchmarks.md) showed the handlers' DynamoDB calls spending
most of their time in moto's request plumbing and in re-parsing the same expressions on every
call, not in the emulation itself. These memoize steps that depend only on their inputs:

* **dispatch**: moto's botocore stub matches every request URL against the URL patterns of all
  ~200 services, then against the service's own URLs; the result depends only on the host and
  path, so the (host -> compiled URL patterns) lookup is cached;
* ``method_names_from_class``: ``inspect.getmembers`` of a response class on every request;
  a class's methods do not change;
* DynamoDB ``UpdateExpressionParser.make(expression)``: the parsed tree depends only on the
  expression string, and moto deep-copies it before validating and executing it;
* DynamoDB ``ConditionExpressionParser._lex_condition_expression``: the tokens depend only on
  the expression string (tokens are immutable named tuples; later stages build new nodes);
* DynamoDB condition expressions: the parsed structure depends on the expression, the attribute
  names and which value placeholders exist, not on the values (:func:`_patch_condition_parse`);
* DynamoDB update-expression validation: the traversal's per-node class lookups, the AST copy
  (pickle instead of ``copy.deepcopy``) and the three structure-only checks for an expression
  already found valid (:func:`_patch_traversal`, :func:`_patch_ast_copy`);
* JSON-protocol requests (DynamoDB, DynamoDB Streams, Kinesis, SQS) answered from the client's
  ``before-call`` event get moto's request object built without werkzeug's ``EnvironBuilder``
  (:func:`answer_json`; see :mod:`.endpoint`);
* JSON request parsing: the walk of the operation's input shape written out once per shape
  (:func:`_patch_json_request_parser`);
* DynamoDB condition operators built by functions written once per parsed structure
  (:func:`_condition_builder`);
* the per-request response set-up: the ``date`` header's text reused within a second, the
  request URL's ``urlparse`` remembered, no search for ``<RequestId>`` in a body without it
  (:func:`_patch_response_setup`).

They are applied only to the moto version whose code they were written against (the one the
``[local]`` extra pins); with any other version nothing is patched and moto runs as shipped.
Every result is still produced by moto's own code: ``tests/local/test_moto_speedups.py`` runs
a script of calls (conditional writes, update expressions of every kind, their errors, a
transaction, queries, scans, the DynamoDB Streams records, Kinesis, SQS) against moto as
shipped in another process over HTTP and against this process's patched moto, and requires the
same answers.
"""

from __future__ import annotations

import functools
import io
import re
import sys
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: The moto release these patches were written against.
MOTO_VERSION = "5.2.5"
_applied: list[str] = []
#: moto's own functions the patches replaced, by name (tests compare the two).
originals: dict[str, Any] = {}
_routes: dict[str, list[tuple[re.Pattern[str], Any]]] = {}


def _route(host: str) -> list[tuple[re.Pattern[str], Any]]:
    """The compiled URL patterns and response methods of the backend serving ``host``."""
    routes = _routes.get(host)
    if routes is not None:
        return routes
    import moto.backend_index as backend_index  # noqa: PLC0415
    import moto.backends as backends  # noqa: PLC0415
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415
    from moto.core.base_backend import BackendDict  # noqa: PLC0415

    routes = []
    for service, pattern in backend_index.backend_url_patterns:
        if pattern.match(f"https://{host}"):
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            routes = [(re.compile(url), method) for url, method in backend.urls.items()]
            break
    _routes[host] = routes
    return routes


def answer(request: Any) -> tuple[int, dict[str, str], Any] | None:
    """moto's answer to a prepared request for an AWS URL (the stub's own logic, routes cached)."""
    if not _applied:
        from moto.core.models import botocore_stubber  # noqa: PLC0415

        return botocore_stubber.process_request(request)
    from moto.core.exceptions import HTTPException  # noqa: PLC0415
    from moto.core.request import normalize_request  # noqa: PLC0415

    parts = urlsplit(request.url)
    clean = f"{parts.scheme}://{parts.netloc}{parts.path}"
    for pattern, method in _route(parts.netloc):
        if pattern.match(clean):
            normalized = normalize_request(request)
            try:
                return method(normalized, normalized.raw_url, normalized.headers)
            except HTTPException as exc:
                return int(exc.code or 500), dict(exc.get_headers()), exc.get_body()
    from moto.core.models import botocore_stubber  # noqa: PLC0415

    return botocore_stubber.process_request(request)


_MISSING = object()


def _remember(memo: dict[Any, Any], key: Any, value: Any, *, limit: int = 4096) -> Any:
    """Store ``value`` under ``key`` in a memo that is emptied when it holds ``limit`` entries
    (each memo stays bounded however many distinct inputs a run sees); return ``value``."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value


def _module(name: str) -> Any:
    """A moto module, typed loosely (the patches reach into moto's internals)."""
    import importlib  # noqa: PLC0415

    return importlib.import_module(name)


def _patch_traversal() -> None:
    """DynamoDB update-expression validation: the same traversal, with its per-node lookups memoized.

    moto validates an update expression by running ten ``DepthFirstTraverser`` processors over
    the AST; for every node each one rebuilt its processing map (a dict of bound methods) and
    ran ``isinstance`` against abstract classes (a Python-level ``ABCMeta.__instancecheck__``
    call). Which node classes a processor class handles, and with which of its methods, depends
    only on the two classes, so it is looked up once per pair; the traversal order, the
    processors called and the nodes they return are unchanged. (A processor whose map does not
    hold its own methods is run the original way.) The walk itself is one plain recursive
    function: it calls the processor's ``pre_processing_of_child`` hook before every child as
    moto does, and does not descend into children that are not nodes (moto's call on them
    returns them untouched). The resolving processor's hook asks ``isinstance`` of four
    abstract classes for every child; it gets the same answer from the parent's class, looked
    up once per class.
    """
    ast_nodes = _module("moto.dynamodb.parsing.ast_nodes")
    validators = _module("moto.dynamodb.parsing.validators")

    node_class = ast_nodes.Node
    traverser = ast_nodes.DepthFirstTraverser
    default_pre = traverser.pre_processing_of_child
    is_node: dict[type, bool] = {}
    # per processor class: (node class -> its method's function, None (not processed) or _MISSING, has a pre hook)
    by_processor: dict[type, tuple[dict[type, Any], bool]] = {}

    def plan(self: Any, kind: type, plans: dict[type, Any]) -> Any:
        found = None
        for cls, method in self._processing_map().items():  # noqa: SLF001
            if issubclass(kind, cls):
                found = getattr(method, "__func__", None)
                if getattr(method, "__self__", None) is not self or found is None:
                    return _MISSING  # not one of its own methods: no caching
                break
        plans[kind] = found
        return found

    def visit(self: Any, node: Any, child_id: int, plans: dict[type, Any], pre: bool) -> Any:
        parent_node = node.parent
        children = node.children
        if children is not None:
            for i, child_node in enumerate(children):
                if pre:
                    self.pre_processing_of_child(node, i)
                kind = type(child_node)
                node_like = is_node.get(kind)
                if node_like is None:
                    node_like = is_node[kind] = issubclass(kind, node_class)
                if node_like:
                    visit(self, child_node, i, plans, pre)
        kind = type(node)
        function = plans.get(kind, _MISSING)
        if function is _MISSING:
            function = plan(self, kind, plans)
        if function is None:
            return node
        if function is _MISSING:
            if not isinstance(node, self.nodes_to_be_processed()):
                return node
            node = self.process(node)
        else:
            node = function(self, node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
        return node

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        node_like = is_node.get(kind)
        if node_like is None:
            node_like = is_node[kind] = issubclass(kind, node_class)
        if not node_like:
            return node
        processor = type(self)
        entry = by_processor.get(processor)
        if entry is None:
            entry = by_processor[processor] = ({}, processor.pre_processing_of_child is not default_pre)
        return visit(self, node, child_id, entry[0], entry[1])

    resolving = validators.ExpressionAttributeResolvingProcessor
    actions = (ast_nodes.UpdateExpressionSetAction, ast_nodes.UpdateExpressionRemoveAction,
               ast_nodes.UpdateExpressionDeleteAction, ast_nodes.UpdateExpressionAddAction)
    is_action: dict[type, bool] = {}

    def pre_processing_of_child(self: Any, parent_node: Any, child_id: int) -> None:
        # ExpressionAttributeResolvingProcessor.pre_processing_of_child (moto 5.2.5), isinstance by class
        kind = type(parent_node)
        action = is_action.get(kind)
        if action is None:
            action = is_action[kind] = issubclass(kind, actions)
        if action:
            self.resolving = child_id != 0

    resolving.pre_processing_of_child = pre_processing_of_child
    traverser.traverse_node_recursively = traverse_node_recursively

    expression_class, function_class = ast_nodes.Expression, ast_nodes.UpdateExpressionFunction
    descend: dict[type, bool] = {}

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            inner = descend.get(kind)
            if inner is None:
                inner = descend[kind] = issubclass(kind, (expression_class, function_class))
            if inner:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    node_class.find_clauses = find_clauses
    _applied.append("DepthFirstTraverser")


_ATOMS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class _Ast:
    """What the speed-ups know about one parsed update expression (moto caches the parse).

    Attributes:
        node: The parsed expression (the root node).
        blob: Its pickled form (a key for caches), or None when pickle refuses it.
        build: A function that returns a new graph equal to ``copy.deepcopy(node)``, or None.
        has_functions: It contains a function call (``if_not_exists``, ``list_append``) or a
            ``NoneExistingPath`` node.
    """

    node: Any
    blob: bytes | None
    build: Any
    has_functions: bool


_asts: dict[int, _Ast] = {}


def _copier(root: Any, node_class: type) -> Any:
    """A function building a copy of the tree ``root``, the graph ``copy.deepcopy`` would build, or None.

    Only for a plain tree: every node's class creates its objects with ``object.__new__`` and has
    no copy or pickle hooks, its attributes are atoms (str, int, float, bool, None), its
    ``children`` (a list of its own, or None) and its ``parent`` (the node whose children hold it;
    None for the root), and no node or list is reached twice. ``copy.deepcopy`` rebuilds such a
    tree as ``cls.__new__(cls)`` plus a copy of its ``__dict__`` (atoms shared, lists and nodes
    copied, the parent links pointing into the copy): the function does exactly that with the
    tree's shape written out as code, instead of walking the tree and pickle's or deepcopy's
    machinery per object. Anything else returns None (the caller copies the usual way).
    """
    order: list[Any] = []
    index: dict[int, int] = {}
    lists: set[int] = set()
    hooks = ("__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__copy__")

    def plain_class(cls: Any) -> bool:
        if cls.__new__ is not object.__new__ or getattr(cls, "__slots__", None):
            return False
        return all(getattr(cls, hook, None) is getattr(object, hook, None) for hook in hooks)

    def walk(node: Any, parent: Any) -> bool:
        if id(node) in index or not plain_class(type(node)):
            return False
        state = getattr(node, "__dict__", None)
        if type(state) is not dict or state.get("parent", _MISSING) is not parent or "children" not in state:
            return False
        index[id(node)] = len(order)
        order.append(node)
        for name, value in state.items():
            if name not in ("children", "parent") and type(value) not in _ATOMS:
                return False
        children = state["children"]
        if children is None:
            return True
        if type(children) is not list or id(children) in lists:
            return False
        lists.add(id(children))
        for child in children:
            if isinstance(child, node_class):
                if not walk(child, node):
                    return False
            elif type(child) not in _ATOMS:
                return False
        return True

    if not walk(root, None):
        return None
    constants: dict[str, Any] = {"new": object.__new__}

    def constant(value: Any) -> str:
        name = f"k{len(constants)}"
        constants[name] = value
        return name

    lines = [f"n{i} = new({constant(type(node))})" for i, node in enumerate(order)]
    for i, node in enumerate(order):
        items = []
        for name, value in node.__dict__.items():
            if name == "parent":
                text = "None" if value is None else f"n{index[id(value)]}"
            elif name == "children" and value is not None:
                text = "[" + ", ".join(f"n{index[id(c)]}" if isinstance(c, node_class) else constant(c)
                                       for c in value) + "]"
            else:
                text = constant(value)
            items.append(f"{name!r}: {text}")
        lines.append(f"n{i}.__dict__ = {{{', '.join(items)}}}")
    source = "def build():\n    " + "\n    ".join(lines) + "\n    return n0\n"
    exec(compile(source, "<moto update-expression copier>", "exec"), constants)  # noqa: S102 - code made above
    return constants["build"]


def _ast(value: Any) -> _Ast:
    """The cached :class:`_Ast` of a parsed update expression (by identity: moto caches the parse)."""
    import pickle  # noqa: PLC0415

    entry = _asts.get(id(value))
    if entry is not None and entry.node is value:
        return entry
    ast_nodes = _module("moto.dynamodb.parsing.ast_nodes")
    try:
        blob: bytes | None = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - not picklable
        blob = None
    special = (ast_nodes.UpdateExpressionFunction, ast_nodes.NoneExistingPath)
    found = [False]

    def scan(node: Any) -> None:
        if isinstance(node, special):
            found[0] = True
        for child in getattr(node, "children", None) or []:
            if isinstance(child, ast_nodes.Node):
                scan(child)

    scan(value)
    entry = _Ast(value, blob, _copier(value, ast_nodes.Node), found[0])
    return _remember(_asts, id(value), entry)


def _blob(value: Any) -> bytes | None:
    """The pickled form of an AST node (cached per object), or None when pickle refuses it."""
    return _ast(value).blob


def _patch_ast_copy() -> None:
    """Copy an update-expression AST without ``copy.deepcopy``; skip validation passes that cannot
    change anything.

    moto validates a deep copy of the (cached) parsed expression, so the copy is made on every
    UpdateItem. The AST is plain objects (``Node`` subclasses without copy hooks, strings,
    numbers): :func:`_copier` writes the same graph out as code once per expression. An
    expression it refuses is copied with a pickle round trip (the same graph, rebuilt in C);
    anything that is not a ``Node``, or that pickle refuses, is deep-copied as before.

    The first three of moto's ten validation passes (one SET/ADD/REMOVE/DELETE clause each, no
    overlapping paths, no key attribute updated) only read the AST, the attribute names and the
    table's key attributes, and return every node unchanged. Once they have passed for an
    expression (its pickled form), those names and those keys, they are not run again for the
    same inputs. Two more passes only act on nodes of one kind each and return every other node
    unchanged: the function evaluator (``if_not_exists``, ``list_append`` calls, which only the
    parser makes) is not run on an expression without any, and the missing-path check
    (``NoneExistingPath`` nodes, which only the path-resolving pass makes, for a path the item
    does not have) is not run when that pass made none. Every other pass (values, item paths,
    arithmetic, types, empty keys) runs on every call.
    """
    import pickle  # noqa: PLC0415

    ast_nodes = _module("moto.dynamodb.parsing.ast_nodes")
    validators = _module("moto.dynamodb.parsing.validators")

    node_class = ast_nodes.Node
    missing_class = ast_nodes.NoneExistingPath
    original = validators.deepcopy

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if memo is None and isinstance(value, node_class):
            entry = _ast(value)
            if entry.build is not None:
                return entry.build()
            if entry.blob is not None:
                return pickle.loads(entry.blob)  # noqa: S301 - bytes made by _ast from moto's own objects
        return original(value, memo)

    validators.deepcopy = deepcopy
    _applied.append("validators.deepcopy")

    static = (validators.ActionCountValidator, validators.OverlappingPathsValidator,
              validators.UpdateHashRangeKeyValidator)
    resolving = validators.ExpressionAttributeResolvingProcessor
    functions = validators.UpdateExpressionFunctionEvaluator
    missing_checker = validators.NoneExistingPathChecker
    original_resolve = resolving.process_expression_path_node

    def process_expression_path_node(self: Any, node: Any) -> Any:
        result = original_resolve(self, node)
        if isinstance(result, missing_class):
            self._ep_made_missing = True  # noqa: SLF001
        return result

    resolving.process_expression_path_node = process_expression_path_node
    update_validator = validators.UpdateExpressionValidator
    original_init = update_validator.__init__
    passed: set[Any] = set()

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        entry = _ast(expression) if isinstance(expression, node_class) else None
        try:
            key = None if entry is None or entry.blob is None else (
                entry.blob, _freeze(self.expression_attribute_names or {}), tuple(self.table.table_key_attrs))
            hash(key)
        except TypeError:
            key = None
        self._ep_static_key = key  # noqa: SLF001
        self._ep_functions = entry is None or entry.has_functions  # noqa: SLF001

    def validate(self: Any) -> Any:
        key = getattr(self, "_ep_static_key", None)
        skip = key is not None and key in passed
        functions_possible = getattr(self, "_ep_functions", True)
        made_missing = functions_possible
        n = self.node_to_validate
        for processor in self.processors:
            kind = type(processor)
            if (skip and kind in static) or (kind is functions and not functions_possible) or (
                    kind is missing_checker and not made_missing):
                continue
            n = processor.traverse(n)
            if kind is resolving:
                made_missing = made_missing or getattr(processor, "_ep_made_missing", False)
        if key is not None and not skip:
            if len(passed) >= 4096:
                passed.clear()
            passed.add(key)
        return n

    update_validator.__init__ = init
    update_validator.validate = validate
    _applied.append("UpdateExpressionValidator.validate")


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((k, _freeze(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("__list__", *(_freeze(v) for v in value))
    return value


def _condition_builder(comparisons: Any, root: Any) -> tuple[Any, Any] | None:
    """``(root, build)``: ``build(parser)`` returns what ``parser._make_op_condition(root)`` returns.

    moto's ``_make_op_condition`` walks the parsed condition's nodes for every request,
    comparing each node's kind against the parser's kinds; the walk depends only on the nodes
    (cached by :func:`_patch_condition_parse`), so it is written out once as nested functions
    that create the same operator and operand objects, in the same order, each call looking up
    its own values (``_lookup_expression_attribute_value``: a missing value fails as in moto).
    A node kind or function name it does not know returns None (moto's own walk is used).
    """
    kinds = comparisons.ConditionExpressionParser.Kind
    functions, comparators = comparisons.FUNC_CLASS, comparisons.COMPARATOR_CLASS
    path_class, value_class = comparisons.AttributePath, comparisons.AttributeValue

    def operand(node: Any) -> Any:
        kind = node.kind
        if kind == kinds.PATH:
            path = [child.value for child in node.children]
            return lambda parser: path_class(list(path))
        if kind == kinds.EXPRESSION_ATTRIBUTE_VALUE:
            text = node.text  # what _patch_condition_parse's make_operand looks up
            return lambda parser: value_class(parser._lookup_expression_attribute_value(text))  # noqa: SLF001
        if kind == kinds.FUNCTION:
            function_class = functions[node.children[0].value]
            arguments = [operand(argument) for argument in node.children[1:]]
            return lambda parser: function_class(*[argument(parser) for argument in arguments])
        raise KeyError(kind)

    def condition(node: Any) -> Any:
        kind = node.kind
        if kind in (kinds.OR, kinds.AND):
            op_class = comparisons.OpOr if kind == kinds.OR else comparisons.OpAnd
            lhs, rhs = (condition(child) for child in node.children)
            return lambda parser: op_class(lhs(parser), rhs(parser))
        if kind == kinds.NOT:
            (child,) = node.children
            inner = condition(child)
            return lambda parser: comparisons.OpNot(inner(parser))
        if kind == kinds.PARENTHESES:
            (child,) = node.children
            return condition(child)
        if kind == kinds.FUNCTION:
            return operand(node)  # the same steps as moto's FUNCTION condition
        if kind == kinds.BETWEEN:
            query, low, high = (operand(child) for child in node.children)
            between = comparisons.FuncBetween
            return lambda parser: between(query(parser), low(parser), high(parser))
        if kind == kinds.IN:
            query, options = operand(node.children[0]), [operand(child) for child in node.children[1:]]
            in_class = comparisons.FuncIn
            return lambda parser: in_class(query(parser), *[option(parser) for option in options])
        if kind == kinds.COMPARISON:
            lhs_node, comparator, rhs_node = node.children
            op_class, lhs, rhs = comparators[comparator.value], operand(lhs_node), operand(rhs_node)
            return lambda parser: op_class(lhs(parser), rhs(parser))
        raise KeyError(kind)

    try:
        return root, condition(root)
    except (KeyError, ValueError, TypeError, AttributeError):
        return None


def _patch_condition_parse() -> None:
    """Parse each condition expression's structure once per (expression, attribute names).

    moto parses a request's condition expression twice (the response layer checks the
    attribute names, the backend evaluates it), and the same expressions recur with new
    values (Powertools' idempotency condition carries the current time). The parse (lexing,
    paths, functions, comparators, IN, BETWEEN, parentheses and booleans, the redundant
    parentheses check) depends on the expression, the attribute names and which value
    placeholders exist, never on the values themselves: values only enter when the operator
    tree is built (``_make_operand``). So the parsed node tree, and the names and values it
    uses, are cached per (expression, names, value placeholders), and every call builds a
    fresh operator tree from it with its own values, exactly as ``parse`` does. Errors are
    never cached: a failing parse fails again the same way.
    """
    comparisons = _module("moto.dynamodb.comparisons")
    attribute_value = comparisons.AttributeValue
    parser = comparisons.ConditionExpressionParser
    original = originals["ConditionExpressionParser.parse"] = parser.parse
    original_make_operand = parser._make_operand  # noqa: SLF001
    value_kind = parser.Kind.EXPRESSION_ATTRIBUTE_VALUE
    cache: dict[Any, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
    builders: dict[int, tuple[Any, Any]] = {}  # id(parsed node) -> (node, its builder or None)

    def structure(self: Any) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
        # ConditionExpressionParser.parse (moto 5.2.5) up to, not including, _make_op_condition.
        nodes = self._lex_condition_expression()
        nodes = self._parse_paths(nodes)
        nodes = self._apply_functions(nodes)
        nodes = self._apply_comparator(nodes)
        nodes = self._apply_in(nodes)
        nodes = self._apply_between(nodes)
        nodes = self._apply_parens_and_booleans(nodes)
        node = nodes[0]
        self._assert_no_redundant_parentheses(node)
        return node, tuple(self._find_literals(node)), tuple(self._find_expr_attr_values(node))

    def parse(self: Any) -> Any:
        if not self.condition_expression:
            return original(self)
        try:
            key = (self.condition_expression, _freeze(self.expression_attribute_names or {}),
                   tuple(sorted(self.expression_attribute_values or {})))
            hash(key)
        except TypeError:
            return original(self)
        entry = cache.get(key)
        if entry is None:
            entry = _remember(cache, key, structure(self))
        node, names, values = entry
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        builder = builders.get(id(node))
        if builder is None or builder[0] is not node:
            built = _condition_builder(comparisons, node)
            builder = _remember(builders, id(node), (node, None if built is None else built[1]))
        if builder[1] is None:
            return self._make_op_condition(node)  # noqa: SLF001
        return builder[1](self)

    def make_operand(self: Any, node: Any) -> Any:
        if node.kind == value_kind:  # the node's value is this placeholder's value (_parse_path_element)
            return attribute_value(self._lookup_expression_attribute_value(node.text))  # noqa: SLF001
        return original_make_operand(self, node)

    parser.parse = parse
    parser._make_operand = make_operand  # noqa: SLF001
    _applied.append("ConditionExpressionParser.parse")


#: The most values (dicts, lists, atoms) a result may hold to have its serialized form remembered.
_SMALL_RESULT = 64


def _frozen(value: Any, budget: list[int]) -> Any:
    """A hashable, type-exact image of a JSON-like value (dict order kept), or _MISSING."""
    budget[0] -= 1
    if budget[0] < 0:
        return _MISSING
    kind = type(value)
    if kind is dict:
        items = []
        for key, item in value.items():
            frozen = _frozen(item, budget)
            if type(key) is not str or frozen is _MISSING:
                return _MISSING
            items.append((key, frozen))
        return (dict, tuple(items))
    if kind is list:
        members = []
        for item in value:
            frozen = _frozen(item, budget)
            if frozen is _MISSING:
                return _MISSING
            members.append(frozen)
        return (list, tuple(members))
    if kind in _ATOMS:
        return (kind, value)
    return _MISSING


def _patch_serialized_results() -> None:
    """Serialize a small JSON-protocol result once per (operation, result).

    moto turns an action's result into its response with a model-driven serializer (a walk of
    the operation's output shape, then ``json.dumps``). For the JSON protocols that walk depends
    only on the serializer class, the operation model, moto's pretty-print setting, the
    response class's key transformers and the result itself: for a result made of dicts, lists,
    strings, numbers, booleans and None (at most :data:`_SMALL_RESULT` values), the status,
    headers and body are kept per (serializer, operation, setting, result) and handed out again
    (the headers as a new dict: moto adds to them). The item writes of an idempotent consumer
    get the same few results over and over (no attributes returned, the consumed capacity).
    Anything else (errors, larger results, timestamps, binary data, a response class with
    transformers) is serialized every time, as before.
    """
    responses = _module("moto.core.responses")
    serialize = _module("moto.core.serialize")
    settings = _module("moto.settings")
    action_result = responses.ActionResult
    json_serializer = serialize.BaseJSONSerializer
    original = originals["ActionResult.execute_result"] = action_result.execute_result
    cache: dict[Any, tuple[Any, Any, dict[str, Any], str]] = {}

    def execute_result(self: Any, context: Any) -> Any:
        serializer_class = context.serializer_class
        if not issubclass(serializer_class, json_serializer) or getattr(
                context.response, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None):
            return original(self, context)
        frozen = _frozen(self.result, [_SMALL_RESULT])
        if frozen is _MISSING:
            return original(self, context)
        operation = context.operation_model
        key = (serializer_class, id(operation), settings.PRETTIFY_RESPONSES, frozen)
        hit = cache.get(key)
        if hit is not None and hit[0] is operation:
            return hit[1], dict(hit[2]), hit[3]
        status, headers, body = original(self, context)
        if type(body) is str and type(headers) is dict and all(type(v) is str for v in headers.values()):
            _remember(cache, key, (operation, status, dict(headers), body))
        return status, headers, body

    action_result.execute_result = execute_result
    _applied.append("ActionResult.execute_result")


def _patch_sqs_retention() -> None:
    """SQS: a message's retention check reads the queue's retention period, not all its attributes.

    For every message it hands out, moto's ``ReceiveMessage`` checks the retention period with
    ``get_queue_attributes(queue, ["MessageRetentionPeriod"])``, which builds the queue's whole
    attribute dict three times, each counting the queue's messages (visible, delayed, in
    flight): receiving the messages of a queue of n messages cost O(n²). That attribute is the
    queue's ``message_retention_period`` (an int, see ``Queue._set_attributes``) and the other
    attributes are computed without side effects, so it is read directly; the queue lookup
    (and its error for an unknown queue) and the comparison are moto's.
    """
    models = _module("moto.sqs.models")
    backend = models.SQSBackend

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        queue = self.get_queue(queue_name)
        retention_period = queue.message_retention_period
        if retention_period is None or isinstance(retention_period, bool):
            # moto would find no such attribute (None) or a string ("true"/"false"): its own way
            return bool(original(self, queue_name, message))
        retain_until = retention_period + message.sent_timestamp / 1000
        return not retain_until <= models.unix_time()

    original = backend.is_message_valid_based_on_retention_period
    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    _applied.append("sqs.retention")


class _RememberingRe:
    """The ``re`` module as one moto module sees it, with ``sub`` remembered per arguments.

    moto's DynamoDB ``update_item`` normalizes the spaces around operators of every update
    expression with ``re.sub`` (whose result it only tests for emptiness); the same few
    expressions come back on every call. ``re.sub`` is a pure function of its arguments.
    """

    def __init__(self) -> None:
        self._subs: dict[tuple[Any, ...], str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)

    def sub(self, pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
        if type(pattern) is not str or type(repl) is not str or type(string) is not str or len(string) > 4096:
            return re.sub(pattern, repl, string, count=count, flags=flags)
        key = (pattern, repl, string, count, flags)
        found = self._subs.get(key)
        if found is None:
            found = re.sub(pattern, repl, string, count=count, flags=flags)
            _remember(self._subs, key, found)
        return found


def _patch_dynamodb_re() -> None:
    models = _module("moto.dynamodb.models")
    if getattr(models, "re", None) is re:
        models.re = _RememberingRe()
        _applied.append("dynamodb.models.re")


_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _patch_attribute_picker() -> None:
    """Remember which keys moto's response serializer tries for a member of a plain ``dict``.

    For every member of every output structure, moto's ``AttributePicker`` asks six alias
    providers which keys to try, building a provider object each time. For an object whose type
    is exactly ``dict`` the answer depends only on the picker, the member's shape and its name
    (a dict has no ``Meta`` class and its class name is always ``dict``), so the list of keys is
    kept per (picker class, providers, shape, name); the keys are then tried in the same order.
    Any other object goes the original way.
    """
    serialize = _module("moto.core.serialize")
    picker = serialize.AttributePicker
    get_value = serialize.get_value
    missing = serialize.MISSING
    original = picker.__call__
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
            entry = _remember(keys_of, key, (shape, keys), limit=65536)
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

    picker.__call__ = call
    _applied.append("AttributePicker")


def _patch_node_init() -> None:
    """DynamoDB expression nodes: ``Node.__init__`` with its class checks memoized per class."""
    ast_nodes = _module("moto.dynamodb.parsing.ast_nodes")
    node_class = ast_nodes.Node
    is_node: dict[type, bool] = {}

    def init(self: Any, children: Any = None) -> None:
        self.type = self.__class__.__name__
        assert children is None or isinstance(children, list)  # noqa: S101 - moto's own check
        self.children = children
        self.parent = None
        if isinstance(children, list):
            for child in children:
                kind = type(child)
                node_like = is_node.get(kind)
                if node_like is None:
                    node_like = is_node[kind] = issubclass(kind, node_class)
                if node_like:
                    child.set_parent(self)

    node_class.__init__ = init
    _applied.append("Node.__init__")


def _patch_kinesis_shard() -> None:
    """A Kinesis shard's first and last sequence numbers without copying its keys into a list.

    moto reads them on every PutRecord (``list(self.records.keys())[-1]``, so putting N records
    costs O(N²)); the first and last keys of the (insertion-ordered) dict are read directly.
    """
    shard = _module("moto.kinesis.models").Shard

    def get_min_sequence_number(self: Any) -> int:
        return next(iter(self.records)) if self.records else 0

    def get_max_sequence_number(self: Any) -> int:
        return next(reversed(self.records)) if self.records else 0

    shard.get_min_sequence_number = get_min_sequence_number
    shard.get_max_sequence_number = get_max_sequence_number
    _applied.append("kinesis.Shard")


def _patch_random_string() -> None:
    """``MotoRandom.get_random_string`` without a method call per character: the same draws, so a
    seeded moto makes the same ids.

    ``choice(seq)`` is ``seq[self._randbelow(len(seq))]``, and ``_randbelow(n)`` (CPython's
    ``_randbelow_with_getrandbits``) draws ``getrandbits(k)`` (``k = n.bit_length()``: one 32-bit
    word of the generator, its top ``k`` bits) until the value is below ``n``. ``getrandbits(32 *
    m)`` is the next ``m`` words, the first one in the lowest bits (CPython's ``getrandbits``
    fills the number from its least significant word, in the order it draws them). So the
    string's characters are read from the words of one draw per round (as many words as
    characters still missing), skipping the rejected values in order: the same words consumed,
    the same characters. When the generator is not one whose ``_randbelow`` and
    ``getrandbits`` are CPython's own (a subclass overriding them), one ``_randbelow`` per
    character as before.
    """
    import random  # noqa: PLC0415
    import string  # noqa: PLC0415
    import struct  # noqa: PLC0415

    random_class = _module("moto.moto_api._internal.moto_random").MotoRandom
    own_below = getattr(random.Random, "_randbelow_with_getrandbits", None)
    own_bits = random.Random.getrandbits
    batched = (own_below is not None and random_class._randbelow is own_below  # noqa: SLF001
               and random_class.getrandbits is own_bits and struct.calcsize("<I") == 4)

    pools = {True: string.ascii_letters + string.digits, False: string.ascii_letters}

    def get_random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
        pool = pools[bool(include_digits)]
        size = len(pool)
        if not batched or type(self) is not random_class:
            below = self._randbelow  # noqa: SLF001
            text = "".join([pool[below(size)] for _ in range(length)])
        else:
            shift = 32 - size.bit_length()
            chars: list[str] = []
            while len(chars) < length:
                missing = length - len(chars)
                words = struct.unpack(f"<{missing}I", self.getrandbits(32 * missing).to_bytes(4 * missing, "little"))
                chars += [pool[value] for value in [word >> shift for word in words] if value < size]
            text = "".join(chars)
        return text.lower() if lower_case else text

    random_class.get_random_string = get_random_string
    _applied.append("MotoRandom.get_random_string")


@functools.cache
def _request_parts() -> tuple[str, Any, Any]:
    """moto's request names :func:`_json_request` uses, imported once."""
    from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, Request, environ_key_for_header  # noqa: PLC0415

    return PRESERVED_HEADER_NAMES_ENVIRON_KEY, Request, environ_key_for_header


@functools.cache
def _http_exception() -> Any:
    from moto.core.exceptions import HTTPException  # noqa: PLC0415

    return HTTPException


def _json_request(host: str, headers: Any, body: bytes) -> Any:
    """moto's request object for a JSON-protocol call (``POST /`` to ``host``).

    The WSGI environ ``Request.from_primitives`` gets from werkzeug's ``EnvironBuilder``, written
    directly: the same keys and values for a body, a path of ``/`` and no query string.
    """
    preserved_key, request_class, environ_key_for_header = _request_parts()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "", "RAW_URI": "/",
        "REQUEST_URI": "/", "SERVER_NAME": host, "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host, "wsgi.version": (1, 0), "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for key, value in headers.items():
        if key.lower() in ("transfer-encoding", "host", "content-length"):
            continue
        environ[environ_key_for_header(key)] = value.decode("utf-8") if isinstance(value, bytes) else value
    environ[preserved_key] = {}
    request = request_class(environ)
    if request.mimetype not in _FORM_TYPES:
        # What werkzeug's _load_form_data and get_data() would leave for a body that is not a
        # form (FormDataParser returns the stream and two empty dicts): no form, the body as data.
        state = request.__dict__
        state["form"], state["files"] = request.parameter_storage_class(), request.parameter_storage_class()
        state["args"] = request.parameter_storage_class()  # what werkzeug parses from an empty query string
        state["_cached_data"] = body
    return request


def answer_json(url: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any] | None:
    """moto's answer to a JSON-protocol request (``POST`` of ``body`` to the AWS URL ``url``, path ``/``).

    Returns None when the speed-ups are not applied or no backend matches (the caller then
    sends the request the usual way).
    """
    if not _applied:
        return None
    parts = urlsplit(url)
    if parts.path not in ("", "/") or parts.query:
        return None
    clean = f"{parts.scheme}://{parts.netloc}/"
    for pattern, method in _route(parts.netloc):
        if pattern.match(clean):
            request = _json_request(parts.netloc, headers, body)
            try:
                return method(request, clean, request.headers)  # clean is request.raw_url for "POST /"
            except _http_exception() as exc:
                return int(exc.code or 500), dict(exc.get_headers()), exc.get_body()
    return None


_JSON_HANDLERS = {
    "_parse_blob": "BaseJSONParser._parse_blob", "_parse_body_as_json": "BaseJSONParser._parse_body_as_json",
    "_parse_byte": "BaseJSONParser._parse_integer", "_parse_double": "BaseJSONParser._parse_float",
    "_parse_float": "BaseJSONParser._parse_float", "_parse_integer": "BaseJSONParser._parse_integer",
    "_parse_json_body": "JSONParser._parse_json_body", "_parse_list": "RequestParser._parse_list",
    "_parse_long": "BaseJSONParser._parse_integer", "_parse_map": "RequestParser._parse_map",
    "_parse_shape": "RequestParser._parse_shape", "_parse_short": "BaseJSONParser._parse_integer",
    "_parse_structure": "BaseJSONParser._parse_structure", "_parse_timestamp": "BaseJSONParser._parse_timestamp",
}


def _patch_json_request_parser() -> None:
    """moto's JSON-protocol request parsing, its walk of the input shape written out once per shape.

    For every request moto walks the operation's input shape over the decoded JSON body
    (``RequestParser._parse_shape``): per value a ``getattr`` of the handler by the shape's type
    name, per structure member a lookup of its shape and its serialized name, for each of the
    ten members of every DynamoDB ``AttributeValue``. What that walk does depends only on the
    shape and the parser's map type, so it is turned into one function per (shape, map type)
    doing the same steps in the same order: members in the shape's order, a member whose value
    is absent or null skipped, a null structure kept as None, document types untouched, lists
    and maps rebuilt (key before value), blobs, timestamps, floats and integers through moto's
    own converters, every other type as decoded. Only for ``JSONParser`` itself with moto's
    default blob and timestamp parsers, and only when its handlers are the ones this was written
    against; anything else is parsed the original way.
    """
    parse = _module("moto.core.parse")
    parser_class = parse.JSONParser
    handlers = {n: getattr(parser_class, n).__qualname__ for n in dir(parser_class) if n.startswith("_parse_")}
    if handlers != _JSON_HANDLERS:
        return
    import threading  # noqa: PLC0415

    blob, timestamp, undefined = parse.default_blob_parser, parse.default_timestamp_parser, parse.UNDEFINED
    original = originals["JSONParser._parse_json_body"] = parser_class._parse_json_body  # noqa: SLF001
    plans: dict[tuple[Any, ...], tuple[Any, Any]] = {}
    lock = threading.Lock()

    def as_float(value: Any) -> Any:
        return value if value is undefined else float(value)

    def as_int(value: Any) -> Any:
        return value if value is undefined else int(value)

    scalars = {"blob": blob, "timestamp": timestamp, "float": as_float, "double": as_float, "integer": as_int,
               "byte": as_int, "short": as_int, "long": as_int}

    def key_of(shape: Any, map_type: Any) -> tuple[Any, Any]:
        # botocore makes a new Shape object for each reference to a named shape (a recursive
        # shape never ends): a shape is known by its model's resolver and its name
        resolver = shape._shape_resolver  # noqa: SLF001
        return (id(resolver), shape.name, map_type), resolver

    def build(shape: Any, map_type: Any, building: dict[tuple[Any, ...], tuple[Any, Any]]) -> Any:
        key, resolver = key_of(shape, map_type)
        entry = building.get(key) or plans.get(key)
        if entry is not None and entry[0] is resolver:
            return entry[1]
        kind = shape.type_name
        if kind == "structure" and not shape.is_document_type:
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

            building[key] = (resolver, structure)  # before the members: shapes can be recursive
            for name, member_shape in shape.members.items():
                members.append((name, member_shape.serialization.get("name", name),
                                build(member_shape, map_type, building)))
            return structure
        if kind == "list":
            item: list[Any] = [None]  # filled below: the member's shape can lead back here

            def list_(node: Any) -> Any:
                parse_item = item[0]
                if parse_item is None:
                    return [value for value in node]  # noqa: C416 - moto iterates, whatever node is
                return [parse_item(value) for value in node]

            building[key] = (resolver, list_)
            item[0] = build(shape.member, map_type, building)
            return list_
        if kind == "map":
            parts: list[Any] = [None, None]  # filled below: the value's shape can lead back here

            def map_(value: Any) -> Any:
                key_of, value_of = parts
                parsed = map_type()
                for raw_key, raw_value in value.items():
                    actual_key = raw_key if key_of is None else key_of(raw_key)
                    parsed[actual_key] = raw_value if value_of is None else value_of(raw_value)
                return parsed

            building[key] = (resolver, map_)
            parts[:] = [build(shape.key, map_type, building), build(shape.value, map_type, building)]
            return map_
        function = scalars.get(kind)
        building[key] = (resolver, function)
        return function

    def plan(shape: Any, map_type: Any) -> Any:
        key, resolver = key_of(shape, map_type)
        entry = plans.get(key)
        if entry is not None and entry[0] is resolver:
            return entry[1]
        with lock:
            building: dict[tuple[Any, ...], tuple[Any, Any]] = {}
            function = build(shape, map_type, building)
            if len(plans) >= 65536:
                plans.clear()
            plans.update(building)  # published once every function in it is complete
        return function

    def _parse_json_body(self: Any, raw_body: Any, shape: Any) -> Any:
        if type(self) is not parser_class or self._blob_parser is not blob or self._timestamp_parser is not timestamp:
            return original(self, raw_body, shape)
        parsed_json = self._parse_body_as_json(raw_body)
        function = plan(shape, self.MAP_TYPE)
        return parsed_json if function is None else function(parsed_json)

    parser_class._parse_json_body = _parse_json_body  # noqa: SLF001
    _applied.append("JSONParser._parse_json_body")


def _patch_response_setup() -> None:
    """moto's per-request response set-up: the same values, computed with less work.

    * the ``date`` header: moto formats ``utcnow()`` with werkzeug's ``http_date`` for every
      request (its ``utcnow`` imports ``datetime.UTC`` on every call); the text depends only on
      the time to the second, so the last second's text is reused, and ``utcnow`` is the same
      expression without the import;
    * ``urlparse`` of the request URL: remembered per URL (its result is an immutable tuple);
    * the action's method name (``camelcase_to_underscores``, a function of the string alone):
      remembered per action;
    * ``_enrich_response``: moto puts the request id into ``<RequestId>`` elements of the body
      with a regular expression that can only match after ``<RequestId>``; a body without that
      text (every JSON body) is returned as it is without the search. The request id is drawn
      and set in the headers as before.
    """
    import datetime  # noqa: PLC0415

    responses = _module("moto.core.responses")
    base = responses.BaseResponse
    original_enrich = base._enrich_response  # noqa: SLF001 - a staticmethod: the function
    original_date = responses.http_date
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

    def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if type(body) is not str or "<RequestId>" in body:
            return original_enrich(headers, body)
        if "status" in headers:
            headers["status"] = str(headers["status"])
        responses.gen_amzn_requestid_long(headers)
        return headers, body

    original_names = originals["camelcase_to_underscores"] = responses.camelcase_to_underscores
    method_names: dict[str, str] = {}

    def camelcase_to_underscores(argument: Any) -> Any:
        if type(argument) is not str or len(argument) > 256:
            return original_names(argument)
        found = method_names.get(argument)
        if found is None:
            found = _remember(method_names, argument, original_names(argument))
        return found

    responses.camelcase_to_underscores = camelcase_to_underscores
    responses.utcnow = utcnow
    responses.http_date = http_date
    responses.urlparse = functools.lru_cache(maxsize=1024)(responses.urlparse)
    base._enrich_response = staticmethod(_enrich_response)  # noqa: SLF001
    originals["BaseResponse._enrich_response"] = original_enrich
    originals["http_date"] = original_date
    _applied.append("BaseResponse.setup")


def applied() -> bool:
    """True when the speed-ups are in place."""
    return bool(_applied)


def apply() -> list[str]:
    """Apply the patches once (pinned moto only); return their names."""
    if _applied:
        return list(_applied)
    import moto  # noqa: PLC0415

    if getattr(moto, "__version__", None) != MOTO_VERSION:
        return []
    responses = _module("moto.core.responses")
    condition_parser = _module("moto.dynamodb.comparisons").ConditionExpressionParser
    update_parser = _module("moto.dynamodb.parsing.expressions").UpdateExpressionParser

    original_names = responses.method_names_from_class
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(original_names)
    _applied.append("method_names_from_class")

    original_make = update_parser.make.__func__

    @functools.lru_cache(maxsize=4096)
    def _parsed(cls: Any, expression: str) -> Any:
        return original_make(cls, expression)

    def _make(cls: Any, expression: str) -> Any:
        return _parsed(cls, expression)

    update_parser.make = classmethod(_make)
    _applied.append("UpdateExpressionParser.make")

    original_lex = condition_parser._lex_condition_expression  # noqa: SLF001

    @functools.lru_cache(maxsize=4096)
    def _tokens(expression: str) -> tuple[Any, ...]:
        parser = condition_parser(expression, {}, {})
        return tuple(original_lex(parser))

    def _lex(self: Any) -> deque[Any]:
        return deque(_tokens(self.condition_expression or ""))

    condition_parser._lex_condition_expression = _lex  # noqa: SLF001
    _applied.append("ConditionExpressionParser._lex_condition_expression")
    _patch_traversal()
    _patch_node_init()
    _patch_ast_copy()
    _patch_attribute_picker()
    _patch_random_string()
    _patch_kinesis_shard()
    _patch_condition_parse()
    _patch_serialized_results()
    _patch_dynamodb_re()
    _patch_sqs_retention()
    _patch_json_request_parser()
    _patch_response_setup()
    _applied.append("dispatch")
    return list(_applied)
