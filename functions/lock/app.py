"""Lock function: takes the per-service deployment lock, or says to wait, or that a newer upload won."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.logic.lock import acquire
from ecs_handoff.models import LockInput
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import LockSettings

settings = LockSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = LockInput.model_validate(raw)  # a malformed event fails here, naming the field
    result = acquire(
        event.request,
        event.execution_arn,
        DeploymentRecords(settings.deployments_table),
        ServiceState(settings.state_table),
        ApprovalStore(settings.approvals_table),
    )
    return result.model_dump(mode="json")
