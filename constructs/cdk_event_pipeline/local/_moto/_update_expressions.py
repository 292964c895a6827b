"""DynamoDB update expressions: moto's parse, AST walks, copies and validation passes, memoized.

Profiling the order pipeline showed UpdateItem spending most of its time re-doing work that
depends only on the expression: its parse, the per-node class lookups of moto's traversals, a
``copy.deepcopy`` of the cached parse, and validation passes that cannot change the result.
Each feature here keeps moto's own steps and results (``tests/local/test_moto_speedups.py``).
"""

from __future__ import annotations

import functools
import pickle
import re
from dataclasses import dataclass
from typing import Any

from ._memo import ATOMS, MISSING, freeze, remember
from ._patcher import Patcher

AST = "moto.dynamodb.parsing.ast_nodes"
VALIDATORS = "moto.dynamodb.parsing.validators"


def parser_make(p: Patcher) -> None:
    """``UpdateExpressionParser.make(expression)``: the parsed tree depends only on the string
    (moto deep-copies it before validating and executing it), so it is kept per string."""
    parser = p.need("moto.dynamodb.parsing.expressions", "UpdateExpressionParser", kind=type)
    make = p.need("moto.dynamodb.parsing.expressions", "UpdateExpressionParser.make", params=("expression_str",))
    original_make = make.__func__

    @functools.lru_cache(maxsize=4096)
    def parsed(cls: Any, expression: str) -> Any:
        return original_make(cls, expression)

    def _make(cls: Any, expression: str) -> Any:
        return parsed(cls, expression)

    p.set(parser, "make", classmethod(_make))


def _is_node_lookup(node_class: type | tuple[type, ...]) -> Any:
    """``is_node(kind)``: ``issubclass(kind, node_class)``, remembered per class."""
    known: dict[type, bool] = {}

    def is_node(kind: type) -> bool:
        found = known.get(kind)
        if found is None:
            found = known[kind] = issubclass(kind, node_class)
        return found

    return is_node


def _visitor(node_class: type) -> Any:
    """moto's depth-first walk as one recursive function, with each processor's per-class method
    lookup done once per (processor class, node class)."""
    is_node = _is_node_lookup(node_class)

    def plan(self: Any, kind: type, plans: dict[type, Any]) -> Any:
        found = None
        for cls, method in self._processing_map().items():  # noqa: SLF001
            if issubclass(kind, cls):
                found = getattr(method, "__func__", None)
                if getattr(method, "__self__", None) is not self or found is None:
                    return MISSING  # not one of its own methods: no caching
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
                if is_node(type(child_node)):
                    visit(self, child_node, i, plans, pre)
        kind = type(node)
        function = plans.get(kind, MISSING)
        if function is MISSING:
            function = plan(self, kind, plans)
        if function is None:
            return node
        if function is MISSING:
            if not isinstance(node, self.nodes_to_be_processed()):
                return node
            node = self.process(node)
        else:
            node = function(self, node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
        return node

    return visit, is_node


def traversal(p: Patcher) -> None:
    """The update-expression validation traversal, its per-node lookups memoized.

    moto validates an update expression by running ten ``DepthFirstTraverser`` processors over
    the AST; for every node each one rebuilt its processing map and ran ``isinstance`` against
    abstract classes. Which node classes a processor class handles, and with which of its
    methods, depends only on the two classes, so it is looked up once per pair; the traversal
    order, the processors called (``pre_processing_of_child`` before every child, as moto does)
    and the nodes they return are unchanged. The resolving processor's hook and
    ``Node.find_clauses`` get their ``isinstance`` answers per class too.
    """
    node_class = p.need(AST, "Node", kind=type)
    traverser = p.need(AST, "DepthFirstTraverser", kind=type)
    p.need(AST, "DepthFirstTraverser.traverse_node_recursively", params=("self", "node", "child_id"), names=(
        "Node", "children", "enumerate", "isinstance", "nodes_to_be_processed", "parent", "pre_processing_of_child",
        "process", "traverse_node_recursively"))
    p.need(AST, "DepthFirstTraverser._processing_map", params=("self",))
    resolving = p.need(VALIDATORS, "ExpressionAttributeResolvingProcessor", kind=type)
    p.need(VALIDATORS, "ExpressionAttributeResolvingProcessor.pre_processing_of_child",
           params=("self", "parent_node", "child_id"), names=(
               "UpdateExpressionAddAction", "UpdateExpressionDeleteAction", "UpdateExpressionRemoveAction",
               "UpdateExpressionSetAction", "isinstance", "resolving"))
    p.need(AST, "Node.find_clauses", params=("self", "clause_types"), names=(
        "Expression", "UpdateExpressionFunction", "append", "children", "extend", "find_clauses", "isinstance",
        "type"))
    actions = tuple(p.need(AST, name, kind=type) for name in (
        "UpdateExpressionSetAction", "UpdateExpressionRemoveAction", "UpdateExpressionDeleteAction",
        "UpdateExpressionAddAction"))
    inner = (p.need(AST, "Expression", kind=type), p.need(AST, "UpdateExpressionFunction", kind=type))
    default_pre = traverser.pre_processing_of_child
    visit, is_node = _visitor(node_class)
    by_processor: dict[type, tuple[dict[type, Any], bool]] = {}

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        if not is_node(type(node)):
            return node
        processor = type(self)
        entry = by_processor.get(processor)
        if entry is None:
            entry = by_processor[processor] = ({}, processor.pre_processing_of_child is not default_pre)
        return visit(self, node, child_id, entry[0], entry[1])

    is_action = _is_node_lookup(actions)

    def pre_processing_of_child(self: Any, parent_node: Any, child_id: int) -> None:
        if is_action(type(parent_node)):
            self.resolving = child_id != 0

    descend = _is_node_lookup(inner)

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
            elif descend(kind):
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    p.set(resolving, "pre_processing_of_child", pre_processing_of_child)
    p.set(traverser, "traverse_node_recursively", traverse_node_recursively)
    p.set(node_class, "find_clauses", find_clauses)


def node_init(p: Patcher) -> None:
    """DynamoDB expression nodes: ``Node.__init__`` with its class checks memoized per class."""
    node_class = p.need(AST, "Node", kind=type)
    p.need(AST, "Node.__init__", params=("self", "children"), names=(
        "Node", "__class__", "__name__", "children", "isinstance", "list", "parent", "set_parent", "type"))
    is_node = _is_node_lookup(node_class)

    def init(self: Any, children: Any = None) -> None:
        self.type = self.__class__.__name__
        assert children is None or isinstance(children, list)  # noqa: S101 - moto's own check
        self.children = children
        self.parent = None
        if isinstance(children, list):
            for child in children:
                if is_node(type(child)):
                    child.set_parent(self)

    p.set(node_class, "__init__", init)


@dataclass(frozen=True)
class Ast:
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


_asts: dict[int, Ast] = {}
_HOOKS = ("__deepcopy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__copy__")


def _plain_class(cls: Any) -> bool:
    if cls.__new__ is not object.__new__ or getattr(cls, "__slots__", None):
        return False
    return all(getattr(cls, hook, None) is getattr(object, hook, None) for hook in _HOOKS)


def _tree_order(root: Any, node_class: type) -> tuple[list[Any], dict[int, int]] | None:
    """The nodes of ``root`` in depth-first order and their indexes, or None when it is not a plain tree."""
    order: list[Any] = []
    index: dict[int, int] = {}
    lists: set[int] = set()

    def walk(node: Any, parent: Any) -> bool:
        if id(node) in index or not _plain_class(type(node)):
            return False
        state = getattr(node, "__dict__", None)
        if type(state) is not dict or state.get("parent", MISSING) is not parent or "children" not in state:
            return False
        index[id(node)] = len(order)
        order.append(node)
        if any(name not in ("children", "parent") and type(value) not in ATOMS for name, value in state.items()):
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
            elif type(child) not in ATOMS:
                return False
        return True

    return (order, index) if walk(root, None) else None


def copier(root: Any, node_class: type) -> Any:
    """A function building a copy of the tree ``root``, the graph ``copy.deepcopy`` would build, or None.

    Only for a plain tree: every node's class creates its objects with ``object.__new__`` and has
    no copy or pickle hooks, its attributes are atoms (str, int, float, bool, None), its
    ``children`` (a list of its own, or None) and its ``parent`` (the node whose children hold it;
    None for the root), and no node or list is reached twice. ``copy.deepcopy`` rebuilds such a
    tree as ``cls.__new__(cls)`` plus a copy of its ``__dict__``: the function does exactly that
    with the tree's shape written out as code. Anything else returns None.
    """
    found = _tree_order(root, node_class)
    if found is None:
        return None
    order, index = found
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


def ast(value: Any) -> Ast:
    """The cached :class:`Ast` of a parsed update expression (by identity: moto caches the parse)."""
    import importlib  # noqa: PLC0415

    entry = _asts.get(id(value))
    if entry is not None and entry.node is value:
        return entry
    ast_nodes = importlib.import_module(AST)
    try:
        blob: bytes | None = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - not picklable
        blob = None
    special = (ast_nodes.UpdateExpressionFunction, ast_nodes.NoneExistingPath)

    def has_special(node: Any) -> bool:
        return isinstance(node, special) or any(
            has_special(child) for child in getattr(node, "children", None) or [] if isinstance(child, ast_nodes.Node))

    entry = Ast(value, blob, copier(value, ast_nodes.Node), has_special(value))
    return remember(_asts, id(value), entry)


def _copy_and_resolve(p: Patcher, validators: Any, node_class: type) -> None:
    """``validators.deepcopy`` of a node by its written-out copier (else pickle, else deepcopy), and the
    resolving pass noting when it made a ``NoneExistingPath`` node."""
    original = p.need(VALIDATORS, "deepcopy", params=("x", "memo", "_nil"))
    missing_class = p.need(AST, "NoneExistingPath", kind=type)
    resolving = validators.ExpressionAttributeResolvingProcessor
    original_resolve = p.need(VALIDATORS, "ExpressionAttributeResolvingProcessor.process_expression_path_node",
                              params=("self", "node"))

    def deepcopy(value: Any, memo: Any = None) -> Any:
        if memo is None and isinstance(value, node_class):
            entry = ast(value)
            if entry.build is not None:
                return entry.build()
            if entry.blob is not None:
                return pickle.loads(entry.blob)  # noqa: S301 - bytes made by ast() from moto's own objects
        return original(value, memo)

    def process_expression_path_node(self: Any, node: Any) -> Any:
        result = original_resolve(self, node)
        if isinstance(result, missing_class):
            self._ep_made_missing = True  # noqa: SLF001
        return result

    p.set(validators, "deepcopy", deepcopy)
    p.set(resolving, "process_expression_path_node", process_expression_path_node)


def ast_copy(p: Patcher) -> None:
    """Copy an update-expression AST without ``copy.deepcopy``; skip validation passes that cannot
    change anything.

    moto validates a deep copy of the (cached) parsed expression on every UpdateItem: the copy
    is made by :func:`copier`'s code (else a pickle round trip, else ``deepcopy`` as before). The
    first three of moto's ten validation passes (one clause each, no overlapping paths, no key
    attribute updated) only read the AST, the attribute names and the table's keys: once passed
    for those inputs they are not run again. The function evaluator is not run on an expression
    without function calls, and the missing-path check not when the resolving pass made no
    ``NoneExistingPath``. Every other pass runs on every call.
    """
    validators = p.need(VALIDATORS)
    node_class = p.need(AST, "Node", kind=type)
    update_validator = p.need(VALIDATORS, "UpdateExpressionValidator", kind=type)
    p.need(VALIDATORS, "UpdateExpressionValidator.validate", params=("self",),
           names=("node_to_validate", "processors", "traverse"))
    original_init = p.need(VALIDATORS, "UpdateExpressionValidator.__init__", params=(
        "self", "expression", "expression_attribute_names", "expression_attribute_values", "item", "table"))
    static = tuple(p.need(VALIDATORS, name, kind=type) for name in (
        "ActionCountValidator", "OverlappingPathsValidator", "UpdateHashRangeKeyValidator"))
    functions = p.need(VALIDATORS, "UpdateExpressionFunctionEvaluator", kind=type)
    missing_checker = p.need(VALIDATORS, "NoneExistingPathChecker", kind=type)
    resolving = p.need(VALIDATORS, "ExpressionAttributeResolvingProcessor", kind=type)
    _asts.clear()
    _copy_and_resolve(p, validators, node_class)
    passed: set[Any] = set()

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        entry = ast(expression) if isinstance(expression, node_class) else None
        try:
            key = None if entry is None or entry.blob is None else (
                entry.blob, freeze(self.expression_attribute_names or {}), tuple(self.table.table_key_attrs))
            hash(key)
        except TypeError:
            key = None
        self._ep_static_key = key  # noqa: SLF001
        self._ep_functions = entry is None or entry.has_functions  # noqa: SLF001

    def validate(self: Any) -> Any:
        key = getattr(self, "_ep_static_key", None)
        skip = key is not None and key in passed
        functions_possible = made_missing = getattr(self, "_ep_functions", True)
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

    p.set(update_validator, "__init__", init)
    p.set(update_validator, "validate", validate)


class _RememberingRe:
    """The ``re`` module as one moto module sees it, with ``sub`` remembered per arguments."""

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
            remember(self._subs, key, found)
        return found


def dynamodb_re(p: Patcher) -> None:
    """moto's DynamoDB ``update_item`` normalizes the spaces around operators of every update
    expression with ``re.sub`` (a pure function of its arguments): remembered per arguments."""
    from ._patcher import Unavailable  # noqa: PLC0415

    models = p.need("moto.dynamodb.models")
    if getattr(models, "re", None) is not re:
        raise Unavailable("moto.dynamodb.models does not use the re module")
    p.set(models, "re", _RememberingRe())
