"""Logger, Tracer and Metrics, created once for every function (STYLE 2)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="handoff")
tracer = Tracer(service="handoff")
metrics = Metrics(namespace="handoff", service="handoff")
