"""Sweeper function: every 5 minutes (a scheduled EventBridge rule) finalizes the deployments whose execution
ended without being finalized, because Step Functions' status event, delivered best effort, never came.

The event carries nothing the sweep uses: it acts only on what the registry, the deployments table and Step
Functions say, so any payload (a re-drive by `handoff failed`, a test's invocation) just runs a sweep."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import SweepIncomplete
from ecs_handoff.logic.sweeper import Sweeper
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import SweeperSettings

settings = SweeperSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = Sweeper(
        settings.registry_prefix,
        settings.state_machine_arn,
        DeploymentRecords(settings.deployments_table),
        ServiceState(settings.state_table),
        ApprovalStore(settings.approvals_table),
        settings.topic_arn,
    ).sweep()
    metrics.add_metric(name="SweptDeployments", unit=MetricUnit.Count, value=len(result.finalized))
    for swept in result.finalized:
        if swept.recorded:  # counted once, by the finalizer that recorded it (as the finalize function does)
            metrics.add_metric(name=f"Deployments{swept.outcome.value.title()}", unit=MetricUnit.Count, value=1)
    if result.failed:
        failures = "; ".join(f"{deployment}: {error}" for deployment, error in sorted(result.failed.items()))
        raise SweepIncomplete(f"{len(result.failed)} ended deployment(s) not finalized: {failures}")
    return result.model_dump(mode="json")
