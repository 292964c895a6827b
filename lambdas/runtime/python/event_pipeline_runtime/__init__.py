"""Runtime library for pipeline Lambda functions (shipped as a layer)."""
