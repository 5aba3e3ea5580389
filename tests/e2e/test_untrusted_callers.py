"""Authority through the real ASL: a task token can end the approval wait, never authorize a deployment."""

from __future__ import annotations

import json
from typing import Any

from ecs_handoff.models import ApprovalStatus, Outcome, approval_id_for
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image


def token_from_history(embedded: EmbeddedAws, execution_arn: str) -> str:
    """The approval task's token, as anyone with states:GetExecutionHistory reads it (AWS documents that the
    TaskScheduled event's parameters hold what the task passed, $$.Task.Token included)."""
    sfn = embedded.client("stepfunctions")
    for event in sfn.get_execution_history(executionArn=execution_arn)["events"]:
        scheduled = event.get("taskScheduledEventDetails")
        if scheduled and "task_token" in scheduled["parameters"]:
            return str(json.loads(scheduled["parameters"])["Payload"]["task_token"])
    raise AssertionError("no approval task in the execution history")


def test_a_token_from_the_history_cannot_satisfy_a_two_person_rule(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN prod's api needs two approvals, and a deployment waits for them
    registry("prod", "api", approvals_required=2)
    before = world.running("prod", "api")["task_definition"]
    deployment_id = world.upload("prod", "api", artifact({"app-container": image("api", "prod-forged01")}))
    waiting = world.wait_phase("prod", deployment_id, "awaiting_approval")
    assert waiting.outcome is Outcome.AWAITING_APPROVAL, waiting.reason
    # WHEN one person ends the wait with the token from the history and an output naming two approvers
    token = token_from_history(embedded, str(waiting.execution_arn))
    claimed = {"approval_id": approval_id_for(deployment_id), "approved_by": ["alice@example.com", "bob@example.com"]}
    embedded.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(claimed))
    # THEN the deploy step reads the approval itself: nothing deployed, and the record says why
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.FAILED
    assert "the approval is PENDING, not APPROVED" in record.reason and "nothing was deployed" in record.reason
    assert world.running("prod", "api")["task_definition"] == before
    assert record.new_task_definition is None and record.approvals == []
    # AND the approval is closed, so its links stop working
    from ecs_handoff.aws.approvals import ApprovalStore

    store = ApprovalStore(embedded.stacks["prod"].outputs["ApprovalsTableName"], embedded.client("dynamodb"))
    approval = store.get(approval_id_for(deployment_id))
    assert approval is not None and approval.status is ApprovalStatus.CANCELLED and approval.votes == []


def test_a_service_terraform_did_not_tag_for_handoff_cannot_be_updated(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN dev's worker service without the handoff:env tag (another team's service, say, in the registry)
    ecs = embedded.client("ecs")
    arn = ecs.describe_services(cluster="dev", services=["worker"])["services"][0]["serviceArn"]
    ecs.untag_resource(resourceArn=arn, tagKeys=["handoff:env"])
    before = world.running("dev", "worker")["task_definition"]
    try:
        # WHEN a deployment of it runs
        record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-untag01")})))
    finally:
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "handoff:env", "value": "dev"}])
    # THEN IAM refuses the deploy role's UpdateService: FAILED, saying so, and the service is unchanged
    assert record.outcome is Outcome.FAILED
    assert "AccessDenied" in record.reason and "UpdateService" in record.reason, record.reason
    assert world.running("dev", "worker")["task_definition"] == before
