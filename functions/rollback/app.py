"""Rollback function: puts the service back on the revision it ran before, unless ECS already did. Its input
may be forged by anyone who can invoke it: the service comes from the registry, the target is checked in ECS."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.logic.rollback import rollback
from ecs_handoff.models import StepInput
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import RollbackSettings

settings = RollbackSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = StepInput.model_validate(raw)  # a malformed event fails here, naming the field
    result = rollback(event.request, DeploymentRecords(settings.deployments_table), settings.registry_prefix)
    return result.model_dump(mode="json")
