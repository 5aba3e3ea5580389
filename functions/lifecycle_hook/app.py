"""Lifecycle hook function: ECS invokes it before each production traffic shift of a BLUE_GREEN, LINEAR or
CANARY deployment; it answers whether the release controls let the shift go on (logic/lifecycle_hook.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.release_controls import Overrides
from ecs_handoff.aws.secrets import signing_key
from ecs_handoff.aws.traffic_hooks import TrafficHolds
from ecs_handoff.logic import lifecycle_hook
from ecs_handoff.models.hooks import LifecycleHookEvent
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import LifecycleHookSettings
from pydantic import ValidationError

settings = LifecycleHookSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


def _key() -> bytes:
    """The link-signing key, which the operator API signs deploy-now overrides with."""
    return signing_key(settings.link_secret_arn)


@logger.inject_lambda_context(correlation_id_path="resourceArn")
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        event = LifecycleHookEvent.model_validate(raw)
    except ValidationError as exc:
        # Not ECS's payload: FAILED is what ECS would read, and nothing was looked up or written.
        answer = lifecycle_hook.refused(f"not an ECS lifecycle hook payload ({exc.error_count()} problems)")
    else:
        ctx = lifecycle_hook.HookContext(
            records=DeploymentRecords(settings.deployments_table),
            holds=TrafficHolds(settings.state_table),
            overrides=Overrides(settings.state_table),
            registry_prefix=settings.registry_prefix,
            key=_key,
        )
        answer = lifecycle_hook.answer(event, ctx)
    logger.info(
        "lifecycle hook answered",
        hook_status=answer.hook_status.value,
        call_back_delay=answer.call_back_delay,
        reason=answer.reason,
    )
    return answer.response()
