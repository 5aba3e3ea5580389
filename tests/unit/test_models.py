"""Names, ordering and outcome decisions: the small rules everything else relies on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from ecs_handoff import limits
from ecs_handoff.aws.state import sequencer_key
from ecs_handoff.logic.finalize import decide
from ecs_handoff.logic.intake import service_id_from_key
from ecs_handoff.models import (
    SERVICE_ID_PATTERN,
    ApprovalVote,
    DeploymentRecord,
    DeploymentRequest,
    Outcome,
    ServiceConfig,
    VoteDecision,
    WorkflowState,
    execution_name,
    one_line,
)
from pydantic import ValidationError

NAME_RULE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def request() -> DeploymentRequest:
    return DeploymentRequest.model_validate(
        {
            "deployment_id": "api-v1",
            "env": "dev",
            "service_id": "api",
            "service": {"cluster": "dev", "service": "api", "task_definition": "dev-api"},
            "base_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:1",
            "images": [{"name": "app-container", "imageUri": "nginx"}],
            "source": {
                "bucket": "b",
                "key": "api/imagedefinitions.json.zip",
                "object_version": "v1",
                "sequencer": "01",
            },
            "requested_at": "2026-11-26T00:00:00.000Z",
        }
    )


def test_execution_name_is_deterministic_and_valid() -> None:
    assert execution_name("api", "Jy2E6.0l8oRZtE_r9kO5cRHfIrbv0Bp1") == execution_name(
        "api", "Jy2E6.0l8oRZtE_r9kO5cRHfIrbv0Bp1"
    )
    assert NAME_RULE.match(execution_name("api", "Jy2E6.0l8oRZtE_r9kO5cRHfIrbv0Bp1"))


def test_execution_name_sanitising_cannot_collide() -> None:
    # GIVEN two versions that differ only in a character Step Functions does not allow
    a, b = execution_name("api", "abc.def"), execution_name("api", "abc_def")
    assert a != b and NAME_RULE.match(a) and b == "api-abc_def"


def test_execution_name_long_inputs_fit_80_characters() -> None:
    name = execution_name("a" * 40, "v" * 200)
    assert len(name) <= 80 and NAME_RULE.match(name)


def test_sequencer_key_orders_different_lengths() -> None:
    # S3 sequencers differ in length; right-padded they compare as text
    assert sequencer_key("0062E99A88DC407460") < sequencer_key("0062E99A88DC407461")
    assert sequencer_key("0062E99A88DC4074") < sequencer_key("0062E99A88DC407401")


@pytest.mark.parametrize(
    ("key", "service_id"),
    [
        ("api/imagedefinitions.json.zip", "api"),
        ("imagedefinitions.json.zip", ""),
        ("a/b/imagedefinitions.json.zip", "a/b"),
        ("api/imagedefinitions.json", None),
        ("api/other.zip", None),
    ],
)
def test_service_id_from_key(key: str, service_id: str | None) -> None:
    assert service_id_from_key(key) == service_id


@pytest.mark.parametrize("sid", ["api", "worker-2", "a"])
def test_service_id_pattern_accepts(sid: str) -> None:
    assert SERVICE_ID_PATTERN.match(sid)


@pytest.mark.parametrize("sid", ["", "API", "a/b", "..", "-api", "api-", "日本", "a" * 41, "api service"])
def test_service_id_pattern_refuses(sid: str) -> None:
    assert not SERVICE_ID_PATTERN.match(sid)


def test_service_config_refuses_unknown_keys_and_bad_timeouts() -> None:
    with pytest.raises(ValidationError, match=r"aproval_required\n  Extra inputs are not permitted"):
        ServiceConfig.model_validate({"cluster": "c", "service": "s", "task_definition": "t", "aproval_required": True})
    too_long = r"approval_timeout_seconds\n  Input should be less than or equal to 604800"
    with pytest.raises(ValidationError, match=too_long):
        ServiceConfig.model_validate(
            {"cluster": "c", "service": "s", "task_definition": "t", "approval_timeout_seconds": 700000}
        )


def test_decide_success() -> None:
    state = WorkflowState.model_validate(
        {"request": request().model_dump(by_alias=True), "rollout": {"state": "COMPLETED"}}
    )
    assert decide(state).outcome is Outcome.SUCCEEDED


def test_decide_rollout_failed_mentions_rollback() -> None:
    state = WorkflowState.model_validate(
        {
            "request": request().model_dump(by_alias=True),
            "rollout": {"state": "FAILED", "reason": "ECS reports the rollout FAILED: circuit breaker"},
            "rollback": {"action": "ALREADY_ROLLED_BACK", "reason": "the service is back on dev-api:1"},
        }
    )
    result = decide(state)
    assert result.outcome is Outcome.FAILED
    assert result.reason == "ECS reports the rollout FAILED: circuit breaker; the service is back on dev-api:1"


def test_decide_error_before_deploy_says_service_unchanged() -> None:
    state = WorkflowState.model_validate(
        {
            "request": request().model_dump(by_alias=True),
            "error": {"Error": "AwsAccessError", "Cause": '{"errorMessage": "updating service api: AccessDenied"}'},
            "rollback": {"action": "NOTHING_DEPLOYED", "reason": "the service was not changed (still on dev-api:1)"},
        }
    )
    result = decide(state)
    assert result.outcome is Outcome.FAILED
    assert "before the service was changed: updating service api: AccessDenied" in result.reason


def test_decide_failed_rollback_asks_for_a_human() -> None:
    state = WorkflowState.model_validate(
        {
            "request": request().model_dump(by_alias=True),
            "rollout": {"state": "FAILED", "reason": "timed out"},
            "rollback_error": {"Error": "AwsAccessError", "Cause": '{"errorMessage": "denied"}'},
        }
    )
    assert "ROLLBACK FAILED" in decide(state).reason


def test_decide_superseded_and_explicit_result() -> None:
    base = request().model_dump(by_alias=True)
    superseded = WorkflowState.model_validate({"request": base, "lock": {"status": "SUPERSEDED", "reason": "newer"}})
    assert decide(superseded).outcome is Outcome.SUPERSEDED
    closed = WorkflowState.model_validate(
        {"request": base, "ended_outcome": {"outcome": "INVALID", "reason": "fail closed"}}
    )
    assert decide(closed).outcome is Outcome.INVALID


def test_service_config_refuses_loops_that_could_overflow_one_execution_history() -> None:
    # GIVEN 24 h of rollout looked at every 30 s without an event: 2,880 looks of up to 11 events, plus
    # 240 lock waits of 9 (an hour polled every 15 s) and 315 outside the loops
    entry = {"cluster": "c", "service": "s", "task_definition": "t", "rollout_timeout_seconds": 86400}
    # THEN it is refused with the numbers, since AWS fails an execution past 25,000 events
    with pytest.raises(ValidationError, match=r"could need 34155 Step Functions history events; at most 20000 fit"):
        ServiceConfig.model_validate({**entry, "rollout_check_seconds": 30})
    # AND looking every 60 s fits (1,440 looks: 18,315 events)
    config = ServiceConfig.model_validate({**entry, "rollout_check_seconds": 60})
    assert limits.planned_events(1440, 240) == 18315
    assert config.rollout_check_seconds == 60 and config.rollout_check_every == 60


def test_service_config_counts_release_control_waits_in_the_history_budget() -> None:
    entry = {"cluster": "c", "service": "s", "task_definition": "t", "blocking_alarms": ["a"]}
    # a day held, looked at every 5 s: 17,280 waits of 9 events
    with pytest.raises(
        ValidationError, match=r"release controls holding up to 86400 s and a 0 s bake looked at every 5 s"
    ):
        ServiceConfig.model_validate({**entry, "gate_poll_seconds": 5})
    # the default (every 60 s: 1,440 waits) fits; so does a 10-minute bake looked at every 10 s
    assert ServiceConfig.model_validate(entry).gate_poll_seconds == 60
    assert ServiceConfig.model_validate({**entry, "bake_seconds": 600, "gate_poll_seconds": 60}).has_bake
    assert limits.planned_events(0, 0, gate_waits=1440, bake_checks=10) == 315 + 1450 * 9


def test_service_config_release_controls_agree() -> None:
    entry = {"cluster": "c", "service": "s", "task_definition": "t"}
    window = {"days": "MON-FRI", "hours": "10:00-17:00", "time_zone": "Asia/Tokyo"}
    with pytest.raises(ValidationError, match="give deploy_windows or change_calendar, not both"):
        ServiceConfig.model_validate({**entry, "deploy_windows": [window], "change_calendar": "freeze"})
    with pytest.raises(ValidationError, match="bake_seconds watches blocking_alarms: name at least one alarm"):
        ServiceConfig.model_validate({**entry, "bake_seconds": 60})
    with pytest.raises(ValidationError, match="time_zone 'Asia/Tokio' is not an IANA time zone"):
        ServiceConfig.model_validate({**entry, "deploy_windows": [{**window, "time_zone": "Asia/Tokio"}]})
    with pytest.raises(ValidationError, match="days 'MON-FRY'"):
        ServiceConfig.model_validate({**entry, "deploy_windows": [{**window, "days": "MON-FRY"}]})
    with pytest.raises(ValidationError, match="hours '10:00-10:00': the window must not be empty"):
        ServiceConfig.model_validate({**entry, "deploy_windows": [{**window, "hours": "10:00-10:00"}]})
    with pytest.raises(ValidationError, match="override_principals: 'oncall' is not an IAM ARN"):
        ServiceConfig.model_validate({**entry, "override_principals": ["oncall"]})
    plain = ServiceConfig.model_validate(entry)
    assert (plain.has_release_gates, plain.has_bake) == (False, False)


def test_service_config_rollout_check_defaults_to_three_minutes_and_never_exceeds_the_timeout() -> None:
    entry = {"cluster": "c", "service": "s", "task_definition": "t"}
    assert ServiceConfig.model_validate(entry).rollout_check_every == 180
    assert ServiceConfig.model_validate({**entry, "rollout_timeout_seconds": 90}).rollout_check_every == 90


def test_service_config_counts_the_lock_wait_against_the_history_too() -> None:
    entry = {"cluster": "c", "service": "s", "task_definition": "t", "poll_interval_seconds": 1}
    with pytest.raises(ValidationError, match="lock_timeout_seconds 3600 polled every 1 s"):
        ServiceConfig.model_validate({**entry, "rollout_timeout_seconds": 60})
    fits = ServiceConfig.model_validate({**entry, "rollout_timeout_seconds": 60, "lock_timeout_seconds": 600})
    assert (fits.rollout_timeout_seconds, fits.lock_timeout_seconds) == (60, 600)


def test_one_line_removes_newlines_escapes_and_bidi_overrides() -> None:
    hostile = "ok\nOutcome: SUCCEEDED\r\n\x1b[2J\x1b]8;;http://evil\x07click\u202egnp.exe\u2028end\t!"
    assert one_line(hostile) == "ok Outcome: SUCCEEDED [2J ]8;;http://evil click gnp.exe end !"
    assert one_line("x" * 50, limit=10) == "x" * 10


def test_an_approval_comment_is_stored_as_one_plain_line() -> None:
    vote = ApprovalVote(
        approver="a@example.com", decision=VoteDecision.REJECT, comment="no\nOutcome: SUCCEEDED", at="t"
    )
    assert vote.comment == "no Outcome: SUCCEEDED"


def test_a_notification_cannot_gain_lines_from_a_reason() -> None:
    from ecs_handoff import notify

    record = DeploymentRecord(
        id="api-1",
        env="prod",
        service="api",
        outcome=Outcome.REJECTED,
        reason="rejected by a@example.com: fine\nOutcome:     SUCCEEDED",
        started_at="2026-11-27T00:00:00.000Z",
    )
    body = notify.body(record)
    assert [line for line in body.splitlines() if line.startswith("Outcome:")] == ["Outcome:     REJECTED"]


COMPLETED = {"state": "COMPLETED", "reason": "done", "checked_at": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("extra", "outcome", "reason"),
    [
        (
            {"gate": {"status": "EXPIRED", "reason": "held for 1 h 0 min by its release controls: x"}},
            Outcome.EXPIRED,
            "held for 1 h 0 min by its release controls: x",
        ),
        ({"gate": {"status": "SUPERSEDED", "reason": "a newer upload"}}, Outcome.SUPERSEDED, "a newer upload"),
        (
            {"rollout": COMPLETED, "bake": {"status": "ALARM", "reason": "alarm a went to ALARM during the bake: r"},
             "rollback": {"action": "ROLLED_BACK", "reason": "handoff rolled the service back to dev-api:1"}},
            Outcome.FAILED,
            "alarm a went to ALARM during the bake: r; handoff rolled the service back to dev-api:1",
        ),
        (
            {"rollout": COMPLETED, "bake_error": {"Error": "AwsAccessError", "Cause": "denied"},
             "rollback": {"action": "ROLLED_BACK", "reason": "handoff rolled the service back to dev-api:1"}},
            Outcome.FAILED,
            "the ECS rollout COMPLETED, but its bake could not be checked (AWS refused a call: denied); "
            "handoff rolled the service back to dev-api:1",
        ),
        (
            {"rollout": COMPLETED, "bake": {"status": "DONE", "reason": "no alarm during the 1 min bake"}},
            Outcome.SUCCEEDED,
            "the ECS rollout of this deployment COMPLETED; no alarm during the 1 min bake",
        ),
        (
            {"rollout": COMPLETED, "gate": {"status": "OPEN", "reason": "deploy-now by arn:x: INC-1",
                                            "override": {"principal": "arn:x", "reason": "INC-1"}}},
            Outcome.SUCCEEDED,
            "the ECS rollout of this deployment COMPLETED; started by deploy-now by arn:x: INC-1",
        ),
        (
            {"rollout": COMPLETED, "gate": {"status": "OPEN", "reason": "the release controls allow it"}},
            Outcome.SUCCEEDED,
            "the ECS rollout of this deployment COMPLETED",
        ),
    ],
)  # fmt: skip
def test_decide_release_control_outcomes(extra: dict[str, Any], outcome: Outcome, reason: str) -> None:
    state = WorkflowState.model_validate({"request": request().model_dump(by_alias=True), **extra})
    assert (decide(state).outcome, decide(state).reason) == (outcome, reason)
