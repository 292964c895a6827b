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
from constructs import IConstruct


def account_of(construct: IConstruct) -> str | None:
    """The concrete account of a construct: its resource's ``env.account`` (an imported resource's
    comes from its ARN), else its stack's; ``None`` while it is a token."""
    env = getattr(construct, "env", None)
    account = getattr(env, "account", None)
    if not isinstance(account, str) or Token.is_unresolved(account):
        account = Stack.of(construct).account
    return None if Token.is_unresolved(account) else account


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
