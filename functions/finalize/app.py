"""Finalize function: records the outcome, sends the notification, releases the service lock."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.logic.finalize import finalize
from ecs_handoff.models import WorkflowState, seconds_since
from ecs_handoff.observability import logger, metrics, tracer
from ecs_handoff.settings import Settings


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_parser(model=WorkflowState)
def lambda_handler(event: WorkflowState, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    result = finalize(
        event,
        DeploymentRecords(settings.need("deployments_table")),
        ServiceState(settings.need("state_table")),
        settings.topic_arn,
        ApprovalStore(settings.approvals_table) if settings.approvals_table else None,
    )
    metrics.add_metric(name=f"Deployments{result.outcome.value.title()}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="DeploymentSeconds", unit=MetricUnit.Seconds, value=seconds_since(event.request.requested_at)
    )
    return result.model_dump(mode="json")
