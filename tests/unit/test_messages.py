"""What people read when something is refused: no class names, the outcome the vocabulary defines, pydantic's
own words left out, and the state of an approval said before who may decide it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ecs_handoff.aws.registry import load_service
from ecs_handoff.errors import ArtifactRejected, RecordConflict
from ecs_handoff.logic.finalize import decide
from ecs_handoff.logic.operator_api import Caller, OperatorDesk
from ecs_handoff.models import ApprovalStatus, Outcome, VoteDecision, WorkflowState
from ecs_handoff.models.workflow import CiDescription

from tests.samples import REQUEST, approval

MISSING_ALARM = (
    "blocking alarm 'dev-api-5xxx' does not exist in CloudWatch; fix blocking_alarms in the registry entry "
    "(a misspelt alarm would never hold a deployment)"
)


def caught(name: str, message: str) -> dict[str, str]:
    """$.error as a Catch writes it for a Lambda function's exception."""
    return {"Error": name, "Cause": json.dumps({"errorMessage": message, "errorType": name})}


def test_decide_a_release_control_refused_before_anything_ran_is_invalid_in_words() -> None:
    # GIVEN the gate refused the deployment: its registry entry names an alarm CloudWatch does not have
    state = WorkflowState.model_validate({"request": REQUEST, "error": caught("ArtifactRejected", MISSING_ALARM)})
    # WHEN finalize decides
    result = decide(state)
    # THEN INVALID (refused, nothing changed), said without the exception's class name
    assert result.outcome is Outcome.INVALID
    assert result.reason == f"{MISSING_ALARM}; nothing was deployed"
    assert "ArtifactRejected" not in result.reason and "FAILED" not in result.reason


def test_decide_a_refusal_after_rollback_ran_is_failed_not_invalid() -> None:
    # GIVEN the deploy step's own failure went through Rollback (a retried step may have changed the service)
    state = WorkflowState.model_validate(
        {
            "request": REQUEST,
            "error": caught("ArtifactRejected", "the base task definition has 51 tags"),
            "rollback": {"action": "NOTHING_DEPLOYED", "reason": "nothing of this deployment is on the service"},
        }
    )
    # WHEN finalize decides  THEN FAILED, with what Rollback found: never INVALID, which says nothing ever ran
    result = decide(state)
    assert result.outcome is Outcome.FAILED
    assert "nothing of this deployment is on the service" in result.reason


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("AwsAccessError", "AWS refused a call before the service was changed: x"),
        ("TransientAwsError",
         "AWS kept failing (throttled or unavailable) after retries before the service was changed: x"),
        ("DeployFailed", "registering the revision or updating the service failed before the service was changed: x"),
        ("Lambda.ServiceException",
         "Lambda could not run the function (ServiceException) before the service was changed: x"),
        ("KeyError", "an unexpected error (KeyError) before the service was changed: x"),
    ],
)  # fmt: skip
def test_decide_an_error_that_stopped_a_step_is_said_in_words(name: str, words: str) -> None:
    # GIVEN a step failed with one of handoff's own errors (or Lambda's, or a bug)
    state = WorkflowState.model_validate({"request": REQUEST, "error": caught(name, "x")})
    # THEN FAILED, with what the error means rather than its class name (a bug's name stays, labelled)
    result = decide(state)
    assert (result.outcome, result.reason) == (Outcome.FAILED, words)


class Ssm:
    """A registry of one entry, as GetParameter returns it."""

    def __init__(self, value: str) -> None:
        self.value = value

    def get_parameter(self, **_: Any) -> dict[str, Any]:
        return {"Parameter": {"Value": self.value}}


ENTRY = {"cluster": "dev", "service": "api", "task_definition": "dev-api"}


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        # a rule across fields: no field to name, and no "Value error, "
        ({**ENTRY, "deploy_windows": [{"days": "MON-FRI", "hours": "09:00-17:00"}],
          "change_calendar": "release-freeze"}, "give deploy_windows or change_calendar, not both"),
        ({**ENTRY, "bake_seconds": 60}, "bake_seconds watches blocking_alarms: name at least one alarm"),
        # a rule of one field: the field, then the rule
        ({**ENTRY, "approvers": ["alice"]}, "approvers: approver 'alice' is not an email address"),
    ],
)  # fmt: skip
def test_load_service_a_malformed_entry_says_what_is_wrong_without_pydantic_words(
    entry: dict[str, Any], said: str
) -> None:
    # WHEN the intake (or the deploy step) reads a registry entry that breaks a rule
    with pytest.raises(ArtifactRejected) as refused:
        load_service("/handoff/dev/services", "api", Ssm(json.dumps(entry)))  # type: ignore[arg-type]
    # THEN the reason is the rule, after the entry's name
    assert str(refused.value) == (
        f"the registry entry /handoff/dev/services/api is malformed, so nothing was deployed: {said}"
    )


def test_load_service_an_entry_that_is_not_json_says_so() -> None:
    with pytest.raises(ArtifactRejected) as refused:
        load_service("/handoff/dev/services", "api", Ssm("{cluster: dev"))  # type: ignore[arg-type]
    assert str(refused.value) == (
        "the registry entry /handoff/dev/services/api is malformed, so nothing was deployed: it is not JSON "
        "(Expecting property name enclosed in double quotes at line 1 column 2)"
    )


class Approvals:
    """The approvals table: one approval; a conditional write fails unless it is pending (as DynamoDB's)."""

    def __init__(self, stored: Any) -> None:
        self.stored = stored
        self.writes = 0

    def get(self, approval_id: str) -> Any:
        return self.stored

    def add_approval(self, current: Any, vote: Any) -> Any:
        self.writes += 1
        raise RecordConflict("not pending", current=self.stored)

    def close(self, *_: Any, **__: Any) -> Any:
        self.writes += 1
        raise RecordConflict("not pending", current=self.stored)


UPLOADER = "arn:aws:sts::123456789012:assumed-role/approver/carol-laptop"
CAROL = Caller(arn="arn:aws:sts::123456789012:assumed-role/approver/carol")
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def desk(approvals: Approvals) -> OperatorDesk:
    def unused() -> Any:
        raise AssertionError("approve does not read overrides or the signing key")

    return OperatorDesk(approvals, None, unused, "/handoff/prod/services", unused, now=lambda: NOW)  # type: ignore[arg-type]


def uploaded_by_carol(**changes: Any) -> Any:
    return approval(
        ci=CiDescription(uploader=UPLOADER),
        approver_principals={"arn:aws:sts::123456789012:assumed-role/approver/*": "alice@example.com"},
        **changes,
    )


def test_operator_approve_of_an_expired_approval_says_expired_before_who_uploaded_it() -> None:
    # GIVEN an approval that expired, uploaded by another session of carol's role
    approvals = Approvals(uploaded_by_carol(expires_at=int(NOW.timestamp()) - 60))
    # WHEN carol approves it
    answer = desk(approvals).decide(CAROL, "a" * 32, VoteDecision.APPROVE, "")
    # THEN she is told it expired (nothing she does can change that), not that she uploaded it
    assert (answer.status, answer.title) == (410, "Approval expired")
    assert approvals.writes == 0


def test_operator_approve_of_a_superseded_approval_says_superseded_and_records_nothing() -> None:
    # GIVEN an approval a newer upload replaced, uploaded by carol's role
    approvals = Approvals(uploaded_by_carol(status=ApprovalStatus.SUPERSEDED, superseded_by="api-v2"))
    # WHEN carol approves it
    answer = desk(approvals).decide(CAROL, "a" * 32, VoteDecision.APPROVE, "")
    # THEN its state is said; the conditional write recorded no vote
    assert (answer.status, answer.title) == (409, "Superseded")
    assert "api-v2" in answer.message


def test_operator_approve_of_a_pending_approval_by_its_uploader_is_still_refused() -> None:
    approvals = Approvals(uploaded_by_carol())
    answer = desk(approvals).decide(CAROL, "a" * 32, VoteDecision.APPROVE, "")
    assert (answer.status, answer.title) == (403, "Uploader cannot approve")
    assert approvals.writes == 0
