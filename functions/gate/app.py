"""Gate function: one look at a deployment's release controls (before the deploy) or at its bake (after
the rollout COMPLETED). The workflow waits between looks; nothing runs while a deployment is held."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.release_controls import Overrides
from ecs_handoff.aws.secrets import signing_key
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.logic import gate
from ecs_handoff.models import GateInput, utcnow
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import GateSettings

settings = GateSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


def _key() -> bytes:
    """The link-signing key, which the operator API signs deploy-now overrides with."""
    return signing_key(settings.link_secret_arn)


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = GateInput.model_validate(raw)  # a malformed event fails here, naming the field
    records = DeploymentRecords(settings.deployments_table)
    state = ServiceState(settings.state_table)
    # The clock is chosen here with the tables and the key (tests of windows run it at fixed instants).
    if event.check == "bake":
        result = gate.check_bake(event, records, state, now=utcnow)
    else:
        overrides = Overrides(settings.state_table)
        result = gate.check_release(event, records, state, overrides, _key, now=utcnow)
    return result.model_dump(mode="json", exclude_none=True)
