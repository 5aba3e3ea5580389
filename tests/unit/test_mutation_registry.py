"""The registry entry's validation: each refusal with the message Terraform's author reads, the edges of the
history budget (exactly at it fits, one event over does not), and which settings count as release controls
and as a bake."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff import limits
from ecs_handoff.models import DeployWindow, ServiceConfig
from ecs_handoff.models.registry import ApprovalStage, PromotionRule
from pydantic import ValidationError

ENTRY: dict[str, Any] = {"cluster": "c", "service": "s", "task_definition": "t"}
WINDOW = {"days": "MON-FRI", "hours": "10:00-17:00", "time_zone": "Asia/Tokyo"}
ONCALL = "arn:aws:iam::123456789012:role/oncall"


def refusal(**fields: Any) -> str:
    """The one message pydantic carries for an entry refused by a validator of ours."""
    with pytest.raises(ValidationError) as refused:
        ServiceConfig.model_validate({**ENTRY, **fields})
    (error,) = refused.value.errors()
    assert error["type"] == "value_error", error
    return str(error["msg"]).removeprefix("Value error, ")


# -- deployment windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"days": "MON-FRY"}, "days 'MON-FRY': use MON..SUN, ranges such as MON-FRI, lists such as MON,WED, or *"),
        ({"hours": "10:00-10:00"}, "hours '10:00-10:00': the window must not be empty (use 00:00-24:00 for all day)"),
        ({"hours": "10:00-25:00"}, "hours '10:00-25:00': not a time of day"),
        ({"time_zone": "Asia/Tokio"},
         "time_zone 'Asia/Tokio' is not an IANA time zone (e.g. Asia/Tokyo, Europe/Berlin, UTC)"),
    ],
)  # fmt: skip
def test_a_window_that_does_not_parse_is_refused_with_its_own_message(window: dict[str, str], message: str) -> None:
    assert refusal(deploy_windows=[{**WINDOW, **window}]) == message


def test_a_window_defaults_to_every_day_in_utc() -> None:
    window = DeployWindow(hours="22:00-02:00")
    assert (window.days, window.hours, window.time_zone) == ("*", "22:00-02:00", "UTC")


# -- release controls -----------------------------------------------------------------------------------


def test_windows_and_a_change_calendar_together_are_refused() -> None:
    assert (
        refusal(deploy_windows=[WINDOW], change_calendar="freeze") == "give deploy_windows or change_calendar, not both"
    )


def test_a_bake_without_an_alarm_to_watch_is_refused() -> None:
    assert refusal(bake_seconds=60) == "bake_seconds watches blocking_alarms: name at least one alarm"
    assert ServiceConfig.model_validate({**ENTRY, "bake_seconds": 60, "blocking_alarms": ["a"]}).has_bake


@pytest.mark.parametrize("principal", ["oncall", "ARN:aws:iam::123456789012:role/oncall", " arn:aws:iam::1:role/x", ""])
def test_override_principals_must_be_iam_arns(principal: str) -> None:
    assert refusal(override_principals=[ONCALL, principal]) == (
        f"override_principals: {principal!r} is not an IAM ARN (pattern)"
    )


def test_override_principals_may_be_patterns_of_arns() -> None:
    entry = {**ENTRY, "override_principals": [ONCALL, "arn:aws:sts::123456789012:assumed-role/oncall/*"]}
    assert len(ServiceConfig.model_validate(entry).override_principals) == 2


@pytest.mark.parametrize(
    ("controls", "gates", "bake"),
    [
        ({}, False, False),
        ({"deploy_windows": [WINDOW]}, True, False),
        ({"change_calendar": "freeze"}, True, False),
        ({"blocking_alarms": ["a"]}, True, False),
        ({"blocking_alarms": ["a"], "bake_seconds": 1}, True, True),
        ({"max_gate_wait_seconds": 60, "gate_poll_seconds": 5}, False, False),
    ],
)
def test_which_settings_are_release_controls_and_which_a_bake(
    controls: dict[str, Any], gates: bool, bake: bool
) -> None:
    config = ServiceConfig.model_validate({**ENTRY, **controls})
    assert (config.has_release_gates, config.has_bake) == (gates, bake)


# -- the history budget -----------------------------------------------------------------------------------

# 5 rollout checks (5 s every 1 s), 32,718 s of lock waits every 15 s: 315 + 5 x 11 + 2,181.2 x 9 = 20,000.8
AT_THE_BUDGET = {"rollout_timeout_seconds": 5, "rollout_check_seconds": 1, "poll_interval_seconds": 15,
                 "lock_timeout_seconds": 32718}  # fmt: skip


def test_an_entry_exactly_at_the_history_budget_fits_and_one_event_more_does_not() -> None:
    assert limits.planned_events(5, 32718 / 15) == limits.HISTORY_BUDGET
    assert ServiceConfig.model_validate({**ENTRY, **AT_THE_BUDGET}).lock_timeout_seconds == 32718
    assert refusal(**{**AT_THE_BUDGET, "lock_timeout_seconds": 32719}) == (
        "rollout_timeout_seconds 5 checked every 1 s and lock_timeout_seconds 32719 polled every 15 s could need "
        "20001 Step Functions history events; at most 20000 fit in one execution (AWS's limit is 25000), so raise "
        "rollout_check_seconds, poll_interval_seconds or gate_poll_seconds, or lower the timeouts"
    )


def test_release_control_waits_count_only_when_there_are_release_controls() -> None:
    # GIVEN a week's wait looked at every second: 604,800 waits, were there anything to wait for
    slow = {"max_gate_wait_seconds": 604800, "gate_poll_seconds": 1}
    assert ServiceConfig.model_validate({**ENTRY, **slow}).has_release_gates is False
    message = refusal(**slow, change_calendar="freeze")
    assert ", release controls holding up to 604800 s and a 0 s bake looked at every 1 s could need " in message
    assert message.startswith("rollout_timeout_seconds 1800 checked every 180 s and lock_timeout_seconds 3600 "
                              "polled every 15 s, release controls")  # fmt: skip


def test_the_bake_counts_in_the_history_budget() -> None:
    # GIVEN alarms held for at most a minute, then a day's bake looked at every second
    entry = {"blocking_alarms": ["a"], "max_gate_wait_seconds": 60, "gate_poll_seconds": 1}
    assert ServiceConfig.model_validate({**ENTRY, **entry, "bake_seconds": 600}).has_bake
    message = refusal(**entry, bake_seconds=86400)
    assert ", release controls holding up to 60 s and a 86400 s bake looked at every 1 s could need " in message
    events = limits.planned_events(1800 / 180, 3600 / 15, 60, 86400)
    assert f"could need {events} Step Functions history events" in message


def test_rollout_checks_happen_at_most_once_per_timeout() -> None:
    assert ServiceConfig.model_validate({**ENTRY, "rollout_timeout_seconds": 179}).rollout_check_every == 179
    assert ServiceConfig.model_validate({**ENTRY, "rollout_timeout_seconds": 180}).rollout_check_every == 180
    assert ServiceConfig.model_validate({**ENTRY, "rollout_check_seconds": 30}).rollout_check_every == 30


# -- approvers and their principals ---------------------------------------------------------------------


@pytest.mark.parametrize("address", ["alice", "alice@ example.com", "alice@example.com\n", "\talice@example.com", ""])
def test_approvers_must_be_email_addresses(address: str) -> None:
    assert refusal(approvers=["bob@example.com", address]) == f"approver {address!r} is not an email address"


def test_approver_principals_act_as_a_listed_approver_whatever_the_case() -> None:
    entry = {**ENTRY, "approvers": ["Alice@Example.com"], "approver_principals": {ONCALL: "alice@example.COM"}}
    assert ServiceConfig.model_validate(entry).approver_principals == {ONCALL: "alice@example.COM"}


def test_an_approver_principal_acting_as_someone_not_listed_is_refused() -> None:
    message = refusal(approvers=["alice@example.com"], approver_principals={ONCALL: "carol@example.com"})
    assert message == f"approver_principals: {ONCALL} acts as 'carol@example.com', who is not in approvers"


def test_approver_principals_must_be_iam_arns() -> None:
    message = refusal(approvers=["alice@example.com"], approver_principals={"alice": "alice@example.com"})
    assert message == "approver_principals: 'alice' is not an IAM ARN (pattern)"


# -- registries -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["public.ecr.aws", "ghcr.io", "a", "r0", "registry.local:5000", "my-registry.io:1"])
def test_allowed_registries_are_host_names_with_an_optional_port(host: str) -> None:
    assert ServiceConfig.model_validate({**ENTRY, "allowed_registries": [host]}).allowed_registries == [host]


@pytest.mark.parametrize(
    "host",
    ["https://ghcr.io", "GHCR.io", "-ghcr.io", "ghcr.io-", "ghcr.io/", "ghcr.io:123456", "ghcr.io:", "ghcr io", "",
     ".io", "ghcr.io\n"],
)  # fmt: skip
def test_allowed_registries_refuse_anything_but_a_host(host: str) -> None:
    assert refusal(allowed_registries=["public.ecr.aws", host]) == (
        f"allowed registry {host!r} is not a registry host name (like public.ecr.aws)"
    )


def test_no_allowed_registries_means_this_accounts_ecr_only() -> None:
    assert ServiceConfig.model_validate(ENTRY).allowed_registries is None
    assert ServiceConfig.model_validate({**ENTRY, "allowed_registries": []}).allowed_registries == []


# -- when the approvers decide, and how they reach green ------------------------------------------------


def test_the_approvers_decide_before_deploy_unless_the_entry_says_before_production_traffic() -> None:
    asked = {**ENTRY, "approval_required": True, "approvers": ["alice@example.com"]}
    before_deploy = ServiceConfig.model_validate(asked)
    assert before_deploy.approval_stage is ApprovalStage.BEFORE_DEPLOY
    assert (before_deploy.approves_before_deploy, before_deploy.approves_before_production_traffic) == (True, False)
    at_traffic = ServiceConfig.model_validate({**asked, "approval_stage": "before_production_traffic"})
    assert (at_traffic.approves_before_deploy, at_traffic.approves_before_production_traffic) == (False, True)


@pytest.mark.parametrize("stage", ["before_deploy", "before_production_traffic"])
def test_without_approval_required_nobody_is_asked_at_either_stage(stage: str) -> None:
    entry = ServiceConfig.model_validate({**ENTRY, "approval_stage": stage})
    assert (entry.approves_before_deploy, entry.approves_before_production_traffic) == (False, False)


def test_an_unknown_approval_stage_is_refused() -> None:
    with pytest.raises(ValidationError, match="'before_deploy' or 'before_production_traffic'"):
        ServiceConfig.model_validate({**ENTRY, "approval_stage": "after_deploy"})


@pytest.mark.parametrize(
    ("test_traffic", "words"),
    [
        ({"url": "https://green.example.com"}, "https://green.example.com"),
        ({"header": "x-handoff-green: 1"}, "with header x-handoff-green: 1"),
        ({"url": "http://alb.internal:8080/", "header": "x-green:1"},
         "http://alb.internal:8080/ with header x-green:1"),
    ],
)  # fmt: skip
def test_test_traffic_says_in_one_line_how_to_reach_green(test_traffic: dict[str, str], words: str) -> None:
    entry = ServiceConfig.model_validate({**ENTRY, "test_traffic": test_traffic})
    assert entry.test_traffic is not None and entry.test_traffic.words() == words


def test_test_traffic_that_says_nothing_is_refused() -> None:
    assert refusal(test_traffic={}) == "test_traffic needs a url or a header (how an approver reaches green)"


@pytest.mark.parametrize(
    "test_traffic",
    [{"url": "ftp://green.example.com"}, {"url": "https://green example"}, {"header": "x-green 1"},
     {"header": "x-green: 1\r\nx-evil: 2"}, {"url": "https://green.example.com", "port": 8080}],
)  # fmt: skip
def test_test_traffic_that_is_not_a_web_address_or_one_header_is_refused(test_traffic: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ServiceConfig.model_validate({**ENTRY, "test_traffic": test_traffic})


# -- promotion ------------------------------------------------------------------------------------------

PUBLIC_KEY = (
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEOoXCXzWo4QHxy1URhcZCesQHvvOv\n"
    "YuM2XKPJJK8JSEYuhW+8Xoimu+IVsxJnuYGizBu5PO/vLOkECIQ+B/+VnA==\n-----END PUBLIC KEY-----\n"
)
RULE = {
    "from": "dev",
    "soak_seconds": 7200,
    "key_id": "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "public_key": PUBLIC_KEY,
}


def promotion_rule(**changes: Any) -> PromotionRule:
    entry = ServiceConfig.model_validate({**ENTRY, "promotion": {**RULE, **changes}})
    assert entry.promotion is not None
    return entry.promotion


def test_a_promotion_rule_names_its_source_and_keeps_statements_an_hour_by_default() -> None:
    rule = promotion_rule()
    assert (rule.from_env, rule.soak_seconds, rule.max_age_seconds) == ("dev", 7200, 3600)
    assert ServiceConfig.model_validate(ENTRY).promotion is None


@pytest.mark.parametrize(
    ("changes", "ok"),
    [({"soak_seconds": 0}, True), ({"soak_seconds": 30 * 86400}, True), ({"soak_seconds": 30 * 86400 + 1}, False),
     ({"soak_seconds": -1}, False), ({"max_age_seconds": 60}, True), ({"max_age_seconds": 59}, False),
     ({"max_age_seconds": 7 * 86400}, True), ({"max_age_seconds": 7 * 86400 + 1}, False)],
)  # fmt: skip
def test_a_promotion_rule_soaks_at_most_30_days_and_keeps_statements_a_minute_to_a_week(
    changes: dict[str, int], ok: bool
) -> None:
    if ok:
        assert promotion_rule(**changes).model_dump(include=set(changes)) == changes
    else:
        with pytest.raises(ValidationError):
            promotion_rule(**changes)


@pytest.mark.parametrize(
    "changes",
    [{"from": "Dev"}, {"from": "d"}, {"key_id": "alias/promotion"},
     {"key_id": "arn:aws:kms:ap-northeast-1:123456789012:alias/promotion"}, {"from_account": "123456789012"}],
)  # fmt: skip
def test_a_promotion_rule_refuses_another_environment_name_key_or_unknown_key(changes: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        promotion_rule(**changes)


@pytest.mark.parametrize(
    "public_key",
    ["not a key", PUBLIC_KEY.replace("PUBLIC KEY", "PRIVATE KEY"), PUBLIC_KEY + "trailing",
     "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"],
)  # fmt: skip
def test_a_promotion_rule_needs_a_pem_public_key(public_key: str) -> None:
    assert refusal(promotion={**RULE, "public_key": public_key}) == (
        "public_key must be a PEM public key (-----BEGIN PUBLIC KEY----- ...)"
    )
