"""Rollout event function: ECS's "ECS Deployment State Change" event (COMPLETED or FAILED) ends the wait
of the workflow that deployed it, once DescribeServices shows the same verdict; for a BLUE_GREEN, LINEAR or
CANARY service, that event or an "ECS Hook State Change" ends it once its service deployment shows a verdict
(or holds it at the PAUSE hook the approvers decide at). Events for deployments
handoff does not wait on, or that ECS does not (yet) bear out, are ignored; events not from ECS, refused."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import RolloutWaits
from ecs_handoff.logic.rollout import on_event
from ecs_handoff.models import EcsDeploymentStateChange
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import RolloutEventSettings

settings = RolloutEventSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context(correlation_id_path="detail.deploymentId")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = EcsDeploymentStateChange.model_validate(raw)  # a malformed event fails here, naming the field
    done = on_event(event, RolloutWaits(settings.state_table), records=DeploymentRecords(settings.deployments_table))
    logger.info(done, event_name=event.detail.event_name)
    return {"done": done}
