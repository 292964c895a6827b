"""`make demo`'s story on the real reference app: synthesized from app.py, deployed on moto,
the real handlers loaded from the assets. The story must end with the poison order isolated in
both order consumers' DLQs, kept by a redrive before the fix, and recovered after it."""

from __future__ import annotations

from cdk_event_pipeline.local.demo import STOCK, run_demo


def test_demo_story_on_the_reference_app(local_pipeline_assembly, local_pipeline_endpoint, capsys) -> None:
    local_pipeline_endpoint.reset()
    assert run_demo(local_pipeline_assembly, local_pipeline_endpoint.url) == 0
    out = capsys.readouterr().out
    for item in ("item-1", "item-2", "item-3"):
        assert f"PUT /items/{item}" in out and "-> 201" in out
    # the worker processed every job, the change consumer and the audit consumer ran
    assert "{'item-1': 'processed', 'item-2': 'processed', 'item-3': 'processed'}" in out
    assert "Audit             batch" in out and "Changes           batch" in out
    # exactly one give-up per order consumer, each for the one malformed order
    assert out.count("gave up on") == 2
    assert "InventoryUpdater  gave up on" in out and "FraudDetector     gave up on" in out
    # stock: o-1 applied (kettle 5-2), o-2 rejected (teapot stays 1), o-4 applied (mug 10-3)
    assert f"stock now: {{'kettle': {STOCK['kettle'] - 2}, 'teapot': 1, 'mug': {STOCK['mug'] - 3}}}" in out
    # before the fix the message stays; after it the record is delivered and mug drops by o-3's 3
    assert out.count("(exit 1): the message stays in the DLQ") == 2
    assert out.count("1 record(s) delivered, 0 missing (exit 0)") == 2
    assert f"mug stock after the redrive: {STOCK['mug'] - 3 - 3}" in out


def test_local_command_deploys_an_existing_assembly_and_polls_until_idle(local_pipeline_assembly,
                                                                         local_pipeline_endpoint, capsys) -> None:
    from cdk_event_pipeline.cli import main

    local_pipeline_endpoint.reset()
    code = main(["local", "--endpoint-url", local_pipeline_endpoint.url, "--cdk-out", str(local_pipeline_assembly)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip().splitlines()[-1].endswith("idle=True")
    assert "note: stream" in out  # ON_DEMAND in the template, shards made locally
    assert "mapping   Events/InventoryUpdater" in out
