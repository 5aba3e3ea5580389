"""Finalize function: records the outcome, sends the notification, releases the service lock.

Invoked by the workflow's Finalize step, and by the EventBridge rule on "Step Functions Execution
Status Change" (FAILED, TIMED_OUT, ABORTED) for executions that ended without reaching that step: an event
whose input AWS left out (over 248 KB) is completed from DescribeExecution. The sweeper (functions/sweeper)
runs the same finalizer for executions whose event never came."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws import sfn
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import DeploymentRefused
from ecs_handoff.logic.finalize import ended_execution_state, finalize, with_input
from ecs_handoff.models import ExecutionStatusChange, WorkflowState, seconds_since
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import FinalizeSettings

settings = FinalizeSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


def handed_by_workflow(execution: str, event: dict[str, Any], function_name: str) -> bool:
    """Whether the workflow's own history shows it scheduled this function with exactly this input: the
    state a Finalize step records comes only from the execution, never from whoever can invoke the function."""
    scheduled = sfn.last_scheduled_input(execution)
    if scheduled is None:
        return False
    resource, handed = scheduled
    return resource.split(":function:")[-1].split(":")[0] == function_name and handed == json.dumps(
        event, sort_keys=True
    )


@logger.inject_lambda_context(correlation_id_path="request.deployment_id")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = DeploymentRecords(settings.deployments_table)
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:
        change = ExecutionStatusChange.model_validate(event)
        detail = with_input(change.detail)
        state = ended_execution_state(detail, records) if detail is not None else None
        if state is None:
            return {"ignored": change.detail.execution_arn}
        logger.append_keys(deployment_id=state.request.deployment_id)
    else:
        state = WorkflowState.model_validate(event)
        execution = sfn.execution_arn(settings.state_machine_arn, state.request.deployment_id)
        if not handed_by_workflow(execution, event, context.function_name):
            raise DeploymentRefused(
                f"this finalize input is not what execution {execution} handed its Finalize step: a direct "
                "invocation decides no outcome (the workflow's own Finalize, its status event or the sweeper do)"
            )
    result = finalize(
        state,
        records,
        ServiceState(settings.state_table),
        settings.topic_arn,
        ApprovalStore(settings.approvals_table),
        registry_prefix=settings.registry_prefix,
    )
    if result.recorded:  # counted once, by the finalizer that recorded it
        metrics.add_metric(name=f"Deployments{result.outcome.value.title()}", unit=MetricUnit.Count, value=1)
        metrics.add_metric(
            name="DeploymentSeconds", unit=MetricUnit.Seconds, value=seconds_since(state.request.requested_at)
        )
    return result.model_dump(mode="json")
