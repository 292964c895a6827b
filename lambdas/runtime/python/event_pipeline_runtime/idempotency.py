"""Idempotency for :func:`~event_pipeline_runtime.pipeline_handler`: each user record applied at most
once per key, with Powertools' idempotency utility on a DynamoDB table (see
:mod:`event_pipeline_runtime.consumer`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from event_pipeline_runtime.sources import ConsumerRecord

__all__ = ["DEFAULT_IDEMPOTENCY_TTL_SECONDS", "DUPLICATE_METRIC", "make_idempotent"]

DEFAULT_IDEMPOTENCY_TTL_SECONDS = 3600 * 24
"""How long an applied key is remembered when ``IDEMPOTENCY_TTL_SECONDS`` is not set."""

DUPLICATE_METRIC = "DuplicateRecordSkipped"
"""Metric (Count) added for every record skipped because its idempotency key was applied."""


def make_idempotent(
    process: Callable[[ConsumerRecord], Any],
    *,
    table_name: str,
    ttl_seconds: int,
    key_prefix: str,
    key_of: Callable[[ConsumerRecord], str] | None,
    boto3_client: Any,
    logger: Any,
    metrics: Any,
) -> tuple[Callable[[ConsumerRecord], Any], Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - only when idempotent
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, key_attr="id", expiry_attr="expiration", boto3_client=boto3_client
    )
    if boto3_client is None:
        # Made at init: after a SnapStart restore its connections and credentials are the
        # snapshot's. Make a new one then (event_pipeline_runtime.snapstart).
        from event_pipeline_runtime.snapstart import on_restore  # noqa: PLC0415

        def new_client() -> None:
            import boto3  # noqa: PLC0415

            persistence.client = boto3.session.Session().client("dynamodb")

        on_restore(new_client)
    config = IdempotencyConfig(expires_after_seconds=ttl_seconds)
    if metrics is None:
        from aws_lambda_powertools import Metrics  # noqa: PLC0415 - shares the metric set of the handler's Metrics

        metrics = Metrics()
    called = [False]

    @idempotent_function(
        data_keyword_argument="idempotency_key", persistence_store=persistence, config=config, key_prefix=key_prefix
    )
    def apply_once(*, idempotency_key: str, record: ConsumerRecord) -> None:
        called[0] = True
        process(record)

    def apply(record: ConsumerRecord) -> None:
        key = key_of(record) if key_of is not None else record.idempotency_key
        if not key:
            raise ValueError(f"empty idempotency key for {record.event_source} record {record.sequence_number}")
        called[0] = False
        apply_once(idempotency_key=key, record=record)
        if not called[0]:
            # Powertools returned the stored result without calling process: a duplicate.
            metrics.add_metric(name=DUPLICATE_METRIC, unit="Count", value=1)
            logger.info(
                "Record already applied; skipped",
                extra={"outcome": "duplicate", "reason": "idempotency key already applied",
                       "idempotency_key": key, "record": record.where},
            )

    return apply, config, persistence
