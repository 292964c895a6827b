"""The Shipments team's CDK app: a stand-in for a project that installs cdk-event-pipeline."""
