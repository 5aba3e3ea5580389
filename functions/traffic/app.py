"""Traffic function: at the PAUSE hook where ECS holds a BLUE_GREEN, LINEAR or CANARY deployment (green on the
test listener), continues it once the approvers approved, re-read from the approvals table (production traffic
moves), or rolls it back (rejected, expired, superseded: traffic stays on the running revision). What ECS holds,
and with which hook, is read from ECS, never from the input."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.logic.authority import Where
from ecs_handoff.logic.service_deployments import act_at_pause
from ecs_handoff.models import TrafficInput
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import TrafficSettings

settings = TrafficSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named
where = Where(settings.env, settings.registry_prefix, settings.require_approval, settings.default_registry)


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = TrafficInput.model_validate(raw)  # a malformed event fails here, naming the field
    result = act_at_pause(
        event, where, DeploymentRecords(settings.deployments_table), ApprovalStore(settings.approvals_table)
    )
    return result.model_dump(mode="json")
