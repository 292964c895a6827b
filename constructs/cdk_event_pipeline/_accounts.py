"""Which AWS account a construct or a principal belongs to, when the app says so.

Cross-account wiring is decided at synth: two stacks with explicit, different ``env`` accounts
(``cdk.Environment(account="111111111111")``), or an imported resource whose ARN names another
account. An environment-agnostic stack's account is a token (``${AWS::AccountId}``): it is never
treated as another account.
"""

from __future__ import annotations

import json

from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from ._validation import remembered, stack_of


def account_of(construct: IConstruct) -> str | None:
    """The concrete account of a construct: its resource's ``env.account`` (an imported resource's
    comes from its ARN), else its stack's; ``None`` while it is a token. Read once per construct
    (a resource's environment is fixed when it is made)."""
    return remembered(construct, "_cep_account", lambda: _account_of(construct))


def _account_of(construct: IConstruct) -> str | None:
    env = getattr(construct, "env", None)
    account = getattr(env, "account", None)
    if not isinstance(account, str) or Token.is_unresolved(account):
        account = _stack_account(stack_of(construct))
    return None if account is None or Token.is_unresolved(account) else account


def _stack_account(stack: Stack) -> str | None:
    """The stack's account, ``None`` while it is a token (read once per stack)."""
    def read() -> str | None:
        account = stack.account
        return None if Token.is_unresolved(account) else account
    return remembered(stack, "_cep_stack_account", read)


def principal_account(grantee: iam.IGrantable) -> str | None:
    """The concrete account of a grantee's principal, ``None`` when unknown (a token)."""
    account = grantee.grant_principal.principal_account
    if account is None or Token.is_unresolved(account):
        return None
    return account


def crosses_accounts(first: str | None, second: str | None) -> bool:
    """Both accounts are known and differ."""
    return first is not None and second is not None and first != second


def statement_json(statement: iam.PolicyStatement, scope: IConstruct) -> str:
    """A statement as JSON, resolved in ``scope``'s stack (for messages)."""
    return json.dumps(Stack.of(scope).resolve(statement.to_statement_json()), sort_keys=True)


def grant_key(key: kms.IKey, grantee: iam.IGrantable, actions: tuple[str, ...]) -> None:
    """``actions`` on ``key``. For a grantee of another account aws-cdk-lib's ``Key.grant`` puts
    ``Resource: "*"`` in the grantee's role; here the role names the key's ARN (a cross-account
    stack output) and the key policy allows the role, so no foreign role holds a wildcard."""
    if not (isinstance(key, kms.Key) and crosses_accounts(account_of(key), principal_account(grantee))):
        key.grant(grantee, *actions)
        return
    key.add_to_resource_policy(iam.PolicyStatement(
        actions=list(actions), principals=[grantee.grant_principal], resources=["*"]))
    iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[key.key_arn])
