"""cdk-event-pipeline: AWS CDK v2 constructs for event pipelines."""

__all__: list[str] = []
