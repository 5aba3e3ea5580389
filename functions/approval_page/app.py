"""Approval page function (HTTP API): GET shows the review page, POST records the decision."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.approvals.page import SECURITY_HEADERS, message_page
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.secrets import signing_key
from ecs_handoff.logic.approval_page import ApprovalDesk, LinkRequest, PageResult
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import ApprovalPageSettings

settings = ApprovalPageSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named

app = APIGatewayHttpResolver()


def _desk() -> ApprovalDesk:
    return ApprovalDesk(
        ApprovalStore(settings.approvals_table),
        DeploymentRecords(settings.deployments_table),
        signing_key(settings.link_secret_arn),
    )


def _html(result: PageResult) -> Response[str]:
    return Response(
        status_code=result.status,
        content_type="text/html; charset=utf-8",
        body=result.html,
        headers=dict(SECURITY_HEADERS),
    )


@app.get("/approvals/<approval_id>")
def show(approval_id: str) -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    link = LinkRequest(approval_id, query.get("approver", ""), query.get("expires", ""), query.get("sig", ""))
    return _html(_desk().view(link, form_action=""))


@app.post("/approvals/<approval_id>")
def decide(approval_id: str) -> Response[str]:
    try:
        form = {k: v[0] for k, v in parse_qs(app.current_event.decoded_body or "", max_num_fields=10).items()}
    except ValueError:
        return _html(PageResult(400, "Bad form", message_page("Bad form", "This is not the review page's form.")))
    link = LinkRequest(approval_id, form.get("approver", ""), form.get("expires", ""), form.get("sig", ""))
    http = app.current_event.request_context.http
    result = _desk().decide(link, form.get("decision", ""), form.get("comment", ""), http.source_ip, http.user_agent)
    return _html(result)


@logger.inject_lambda_context(correlation_id_path="pathParameters.approval_id", log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
