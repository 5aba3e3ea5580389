"""Logger and Metrics, created once for every function, so every function logs and measures alike (one
service name, one metrics namespace).

No Powertools Tracer: it imports the AWS X-Ray SDK (in maintenance since 2026-02-25, end of support
2027-02-25), which was most of a cold start. Lambda's and Step Functions' active tracing (template.yaml)
record each state transition and each function invocation (its initialization and invocation time); the AWS
calls a function makes are not traced (no SDK in it); each step logs what it did instead."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="handoff")
metrics = Metrics(namespace="handoff", service="handoff")
