"""Intake function: S3 "Object Created" (via EventBridge) -> validated deployment started, or refused."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.logic.intake import Intake
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import IntakeSettings

settings = IntakeSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = Intake(settings).handle(event)
    metrics.add_metric(name=f"Intake{result.action.title()}", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
