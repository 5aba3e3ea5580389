"""Rollout function: one poll of this deployment's rolloutState (the waiting is a Wait state in the ASL)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.logic.rollout import check
from ecs_handoff.models import RolloutInput
from ecs_handoff.observability import logger, metrics, tracer
from ecs_handoff.settings import Settings


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=RolloutInput)
def lambda_handler(event: RolloutInput, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    result = check(
        event.request,
        event.deploy,
        DeploymentRecords(settings.need("deployments_table")),
        ServiceState(settings.need("state_table")),
    )
    return result.model_dump(mode="json")
