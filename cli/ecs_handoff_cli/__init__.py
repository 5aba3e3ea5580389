"""The `handoff` command for operators. Not part of the Lambda layer: it runs on a laptop or in CI."""
