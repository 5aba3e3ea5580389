"""Rollout function, invoked by WatchRollout with a task token: stores the token under the ECS deployment
id, looks at the deployment once, and sends the verdict itself if ECS has already decided. Otherwise the
workflow waits for ECS's event (rollout_event) or, when none comes, for this function's next look."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import RolloutWaits, ServiceState
from ecs_handoff.logic.rollout import watch
from ecs_handoff.models import RolloutInput
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import RolloutSettings

settings = RolloutSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = RolloutInput.model_validate(raw)  # a malformed event fails here, naming the field
    result = watch(
        event,
        DeploymentRecords(settings.deployments_table),
        RolloutWaits(settings.state_table),
        ServiceState(settings.state_table),
    )
    # Step Functions keeps the verdict sent with the token, not this
    return result.model_dump(mode="json") if result else {"superseded_by_a_newer_wait": True}
