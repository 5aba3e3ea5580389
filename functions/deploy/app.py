"""Deploy function: registers Terraform's base task definition with the new images and updates the service,
after re-deriving both from the record, the registry, the base, the lock, release controls and the approval
(never from its input)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.release_controls import Overrides
from ecs_handoff.aws.secrets import signing_key
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.logic.authority import Where
from ecs_handoff.logic.deploy import Guards, authorize, deploy
from ecs_handoff.models import DeployInput, utcnow
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import DeploySettings

settings = DeploySettings.from_env()  # cold start: a variable template.yaml forgot stops here, named
where = Where(settings.env, settings.registry_prefix, settings.require_approval, settings.default_registry)


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = DeployInput.model_validate(raw)  # a malformed event fails here, naming the field
    records = DeploymentRecords(settings.deployments_table)
    guards = Guards(
        ApprovalStore(settings.approvals_table),
        ServiceState(settings.state_table),
        Overrides(settings.state_table),
        lambda: signing_key(settings.link_secret_arn),
    )
    # The clock is chosen here with the tables and the key (tests of windows run it at fixed instants).
    allowed = authorize(event.request, where, records, guards, attempt=event.attempt, now=utcnow)
    result = deploy(event.request, allowed, records, attempt=event.attempt)
    return result.model_dump(mode="json")
