"""Request-approval function (waitForTaskToken): stores the pending approval, emails each approver a link
through their own SNS topic.

The event carries the task token; it is stored, never logged, never put in a link or an email."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.secrets import signing_key
from ecs_handoff.logic.authority import Where
from ecs_handoff.logic.request_approval import request_approval
from ecs_handoff.models import ApprovalInput
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import RequestApprovalSettings

settings = RequestApprovalSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named


@logger.inject_lambda_context(correlation_id_path="request.deployment_id", log_event=False)
@metrics.log_metrics
def lambda_handler(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    event = ApprovalInput.model_validate(raw)  # a malformed event fails here, naming the field
    approval = request_approval(
        event,
        ApprovalStore(settings.approvals_table),
        DeploymentRecords(settings.deployments_table),
        settings.sns_arn_prefix,
        settings.approval_base_url,
        signing_key(settings.link_secret_arn),
        Where(settings.env, settings.registry_prefix, settings.require_approval, settings.default_registry),
    )
    return {"approval_id": approval.approval_id, "expires_at": approval.expires_at}
