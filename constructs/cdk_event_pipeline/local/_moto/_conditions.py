"""DynamoDB condition expressions: moto's lexing, parse and operator building, once per structure.

moto parses a request's condition expression twice (the response layer checks the attribute
names, the backend evaluates it), and the same expressions recur with new values (Powertools'
idempotency condition carries the current time). What depends only on the expression is done
once; every call still builds its own operator tree with its own values, as moto does.
"""

from __future__ import annotations

import functools
from collections import deque
from typing import Any

from ._memo import freeze, remember
from ._patcher import Patcher

COMPARISONS = "moto.dynamodb.comparisons"
#: The steps of moto's ``ConditionExpressionParser.parse`` before ``_make_op_condition``, in order.
PARSE_STEPS = ("_parse_paths", "_apply_functions", "_apply_comparator", "_apply_in", "_apply_between",
               "_apply_parens_and_booleans")
_PARSE_NAMES = ("OpDefault", "_assert_no_redundant_parentheses", "_find_expr_attr_values", "_find_literals",
                "_lex_condition_expression", "_make_op_condition", "condition_expression", "expr_attr_names_found",
                "expr_attr_values_found", "extend", *PARSE_STEPS)
_INIT_PARAMS = ("self", "condition_expression", "expression_attribute_names", "expression_attribute_values")


def lexing(p: Patcher) -> None:
    """``ConditionExpressionParser._lex_condition_expression``: the tokens depend only on the
    expression string (immutable named tuples; later stages build new nodes)."""
    parser = p.need(COMPARISONS, "ConditionExpressionParser", kind=type)
    p.need(COMPARISONS, "ConditionExpressionParser.__init__", params=_INIT_PARAMS)
    original_lex = p.need(COMPARISONS, "ConditionExpressionParser._lex_condition_expression", params=("self",))

    @functools.lru_cache(maxsize=4096)
    def tokens(expression: str) -> tuple[Any, ...]:
        return tuple(original_lex(parser(expression, {}, {})))

    def _lex(self: Any) -> deque[Any]:
        return deque(tokens(self.condition_expression or ""))

    p.set(parser, "_lex_condition_expression", _lex)


def _operand_builder(comparisons: Any) -> Any:
    """``operand(node)``: a function of the parser building what ``_make_operand(node)`` builds."""
    kinds = comparisons.ConditionExpressionParser.Kind
    functions = comparisons.FUNC_CLASS
    path_class, value_class = comparisons.AttributePath, comparisons.AttributeValue

    def operand(node: Any) -> Any:
        kind = node.kind
        if kind == kinds.PATH:
            path = [child.value for child in node.children]
            return lambda parser: path_class(list(path))
        if kind == kinds.EXPRESSION_ATTRIBUTE_VALUE:
            text = node.text  # what condition_parse's make_operand looks up
            return lambda parser: value_class(parser._lookup_expression_attribute_value(text))  # noqa: SLF001
        if kind == kinds.FUNCTION:
            function_class = functions[node.children[0].value]
            arguments = [operand(argument) for argument in node.children[1:]]
            return lambda parser: function_class(*[argument(parser) for argument in arguments])
        raise KeyError(kind)

    return operand


def condition_builder(comparisons: Any, root: Any) -> tuple[Any, Any] | None:
    """``(root, build)``: ``build(parser)`` returns what ``parser._make_op_condition(root)`` returns.

    moto's ``_make_op_condition`` walks the parsed condition's nodes for every request; the walk
    depends only on the nodes, so it is written out once as nested functions that create the
    same operator and operand objects, in the same order, each call looking up its own values
    (a missing value fails as in moto). A node kind or function name it does not know returns
    None (moto's own walk is used).
    """
    kinds = comparisons.ConditionExpressionParser.Kind
    comparators = comparisons.COMPARATOR_CLASS
    operand = _operand_builder(comparisons)

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


def _structure(self: Any) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
    """``ConditionExpressionParser.parse`` up to, not including, ``_make_op_condition``."""
    nodes = self._lex_condition_expression()
    for step in PARSE_STEPS:
        nodes = getattr(self, step)(nodes)
    node = nodes[0]
    self._assert_no_redundant_parentheses(node)
    return node, tuple(self._find_literals(node)), tuple(self._find_expr_attr_values(node))


def condition_parse(p: Patcher) -> None:
    """Parse each condition expression's structure once per (expression, attribute names, value
    placeholders).

    The parse depends on the expression, the attribute names and which value placeholders
    exist, never on the values: values only enter when the operator tree is built
    (``_make_operand``). So the parsed node tree and the names and values it uses are cached,
    and every call builds a fresh operator tree from it with its own values, as ``parse`` does.
    Errors are never cached: a failing parse fails again the same way.
    """
    comparisons = p.need(COMPARISONS)
    attribute_value = p.need(COMPARISONS, "AttributeValue", kind=type)
    parser = p.need(COMPARISONS, "ConditionExpressionParser", kind=type)
    original = p.need(COMPARISONS, "ConditionExpressionParser.parse", params=("self",), names=_PARSE_NAMES)
    original_make_operand = p.need(COMPARISONS, "ConditionExpressionParser._make_operand", params=("self", "node"))
    for name in ("FUNC_CLASS", "COMPARATOR_CLASS", "AttributePath", "OpOr", "OpAnd", "OpNot", "FuncBetween",
                 "FuncIn", "ConditionExpressionParser._lookup_expression_attribute_value"):
        p.need(COMPARISONS, name)
    p.originals["ConditionExpressionParser.parse"] = original
    value_kind = parser.Kind.EXPRESSION_ATTRIBUTE_VALUE
    cache: dict[Any, tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
    builders: dict[int, tuple[Any, Any]] = {}  # id(parsed node) -> (node, its builder or None)

    def parse(self: Any) -> Any:
        if not self.condition_expression:
            return original(self)
        try:
            key = (self.condition_expression, freeze(self.expression_attribute_names or {}),
                   tuple(sorted(self.expression_attribute_values or {})))
            hash(key)
        except TypeError:
            return original(self)
        entry = cache.get(key)
        if entry is None:
            entry = remember(cache, key, _structure(self))
        node, names, values = entry
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        builder = builders.get(id(node))
        if builder is None or builder[0] is not node:
            built = condition_builder(comparisons, node)
            builder = remember(builders, id(node), (node, None if built is None else built[1]))
        if builder[1] is None:
            return self._make_op_condition(node)  # noqa: SLF001
        return builder[1](self)

    def make_operand(self: Any, node: Any) -> Any:
        if node.kind == value_kind:  # the node's value is this placeholder's value (_parse_path_element)
            return attribute_value(self._lookup_expression_attribute_value(node.text))  # noqa: SLF001
        return original_make_operand(self, node)

    p.set(parser, "parse", parse)
    p.set(parser, "_make_operand", make_operand)
