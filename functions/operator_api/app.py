"""Operator API function (HTTP API, every route AWS_IAM): `handoff approve|reject|deploy-now|rollback`, decided
as the IAM identity API Gateway authenticated."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.logic.operator_api import Answer, Caller, OperatorDesk
from ecs_handoff.models import VoteDecision
from ecs_handoff.observability import logger, metrics
from ecs_handoff.settings import OperatorApiSettings
from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from ecs_handoff.aws.release_controls import Overrides
    from ecs_handoff.logic.promotion import Attestor

settings = OperatorApiSettings.from_env()  # cold start: a variable template.yaml forgot stops here, named

app = APIGatewayHttpResolver()


class DecisionBody(BaseModel):
    # Any other field (a "principal" claiming to be someone else) is ignored: who decides comes from AWS.
    model_config = ConfigDict(extra="ignore")
    comment: str = ""


class DeployNowBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str = ""


class RollbackBody(BaseModel):
    # Which ECS service deployment to stop is found from the record and ECS; a body naming one is ignored.
    model_config = ConfigDict(extra="ignore")
    reason: str = ""


Body = TypeVar("Body", bound=BaseModel)


def _overrides() -> Overrides:
    from ecs_handoff.aws.release_controls import Overrides  # deploy-now only: approve and reject never load it

    return Overrides(settings.state_table)


def _key() -> bytes:
    from ecs_handoff.aws.secrets import signing_key  # deploy-now only (Powertools' parameters utility)

    return signing_key(settings.link_secret_arn)


def _attestor() -> Attestor:
    from ecs_handoff.logic.promotion import Attestor  # `handoff promote` only

    return Attestor(DeploymentRecords(settings.deployments_table), settings.env, settings.promotion_key_arn)


def _desk() -> OperatorDesk:
    return OperatorDesk(
        ApprovalStore(settings.approvals_table),
        DeploymentRecords(settings.deployments_table),
        _overrides,
        settings.registry_prefix,
        _key,
        attestor=_attestor,
    )


def _caller() -> Caller | None:
    """The caller API Gateway's IAM authorization put in the request context; never the body."""
    iam = app.current_event.request_context.authorizer.iam
    return Caller(iam.user_arn, iam.account_id, iam.caller_id) if iam.user_arn else None


def _json(answer: Answer) -> Response[str]:
    return Response(status_code=answer.status, content_type="application/json", body=json.dumps(answer.body()))


def _body(model: type[Body]) -> Body | None:
    try:
        return model.model_validate_json(app.current_event.decoded_body or "{}")
    except ValidationError:
        return None


def _decide(approval_id: str, decision: VoteDecision) -> Response[str]:
    body = _body(DecisionBody)
    if body is None:
        return _json(Answer(400, "Bad request", 'send a JSON object: {"comment": "..."}'))
    http = app.current_event.request_context.http
    return _json(_desk().decide(_caller(), approval_id, decision, body.comment, http.source_ip, http.user_agent))


@app.post("/approvals/<approval_id>/approve")
def approve(approval_id: str) -> Response[str]:
    return _decide(approval_id, VoteDecision.APPROVE)


@app.post("/approvals/<approval_id>/reject")
def reject(approval_id: str) -> Response[str]:
    return _decide(approval_id, VoteDecision.REJECT)


@app.post("/deployments/<deployment_id>/deploy-now")
def deploy_now(deployment_id: str) -> Response[str]:
    body = _body(DeployNowBody)
    if body is None:
        return _json(Answer(400, "Bad request", 'send a JSON object: {"reason": "..."}'))
    return _json(_desk().deploy_now(_caller(), deployment_id, body.reason))


@app.post("/deployments/<deployment_id>/rollback")
def rollback(deployment_id: str) -> Response[str]:
    body = _body(RollbackBody)
    if body is None:
        return _json(Answer(400, "Bad request", 'send a JSON object: {"reason": "..."}'))
    return _json(_desk().rollback(_caller(), deployment_id, body.reason))


@app.post("/deployments/<deployment_id>/attest")
def attest(deployment_id: str) -> Response[str]:
    # The body is not read: what is signed is re-derived here, never taken from the request.
    return _json(_desk().attest(_caller(), deployment_id))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
