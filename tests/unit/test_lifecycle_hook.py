"""The lifecycle hook's decision without AWS (logic/lifecycle_hook.decide): what it answers ECS before a
production traffic shift for the holds the release controls report, how long it asks ECS to wait, and when it
gives up; and the answer's shape as ECS reads it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ecs_handoff.logic import lifecycle_hook
from ecs_handoff.logic.gate import Hold
from ecs_handoff.models import Phase, ServiceConfig
from ecs_handoff.models.hooks import HookStatus, LifecycleHookAnswer, LifecycleHookEvent

from tests.helpers import ROOT

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CONFIG = ServiceConfig(
    cluster="dev", service="api", task_definition="dev-api", gate_poll_seconds=60, max_gate_wait_seconds=3600
)
WINDOW = Hold(Phase.WAITING_FOR_WINDOW, "outside the deployment windows", NOW + timedelta(seconds=20))
ALARM = Hold(Phase.WAITING_FOR_ALARM, "alarm dev-api-5xx is in ALARM: 5xx")


def test_decide_nothing_holds_succeeds() -> None:
    answer = lifecycle_hook.decide([], None, NOW, CONFIG)
    assert (answer.hook_status, answer.call_back_delay) == (HookStatus.SUCCEEDED, None)


def test_decide_held_asks_again_after_gate_poll_seconds() -> None:
    # GIVEN an alarm (which says nothing of when it ends) held the step since now
    answer = lifecycle_hook.decide([ALARM], NOW, NOW, CONFIG)
    # THEN ECS calls again after gate_poll_seconds, and the reason is the alarm's
    assert (answer.hook_status, answer.call_back_delay) == (HookStatus.IN_PROGRESS, 60)
    assert answer.reason == "alarm dev-api-5xx is in ALARM: 5xx"


def test_decide_held_by_a_window_asks_again_when_it_opens() -> None:
    answer = lifecycle_hook.decide([WINDOW], NOW, NOW, CONFIG)
    assert (answer.hook_status, answer.call_back_delay) == (HookStatus.IN_PROGRESS, 20)


def test_decide_held_by_a_window_and_an_alarm_waits_the_poll_interval() -> None:
    # The alarm may clear any time: the window's opening alone does not set the next look.
    answer = lifecycle_hook.decide([ALARM, WINDOW], NOW, NOW, CONFIG)
    assert answer.call_back_delay == 60
    assert answer.reason == "alarm dev-api-5xx is in ALARM: 5xx; outside the deployment windows"


def test_decide_the_last_look_comes_when_the_maximum_wait_ends() -> None:
    # GIVEN held 3590 s of at most 3600 THEN the next look is 10 s away, not 60
    answer = lifecycle_hook.decide([ALARM], NOW - timedelta(seconds=3590), NOW, CONFIG)
    assert (answer.hook_status, answer.call_back_delay) == (HookStatus.IN_PROGRESS, 10)


def test_decide_held_max_gate_wait_seconds_fails_so_ecs_rolls_back() -> None:
    answer = lifecycle_hook.decide([ALARM], NOW - timedelta(seconds=3600), NOW, CONFIG)
    assert answer.hook_status is HookStatus.FAILED
    assert answer.reason == (
        "held for 1 h 0 min (max_gate_wait_seconds) by its release controls: alarm dev-api-5xx is in ALARM: 5xx; "
        "ECS rolls the deployment back"
    )


def test_decide_just_short_of_max_wait_still_holds() -> None:
    answer = lifecycle_hook.decide([ALARM], NOW - timedelta(seconds=3599), NOW, CONFIG)
    assert (answer.hook_status, answer.call_back_delay) == (HookStatus.IN_PROGRESS, 1)


def test_decide_a_window_opening_within_a_second_still_waits_one_second() -> None:
    # callBackDelay is whole seconds: never 0 (ECS would call back at once, again and again)
    soon = Hold(Phase.WAITING_FOR_WINDOW, "outside", NOW + timedelta(milliseconds=200))
    assert lifecycle_hook.decide([soon], NOW, NOW, CONFIG).call_back_delay == 1


def test_answer_response_is_what_ecs_reads() -> None:
    held = LifecycleHookAnswer(hook_status=HookStatus.IN_PROGRESS, call_back_delay=30, reason="held")
    assert held.response() == {"hookStatus": "IN_PROGRESS", "callBackDelay": 30}
    assert lifecycle_hook.refused("no").response() == {"hookStatus": "FAILED"}


def test_event_reads_ecs_payload() -> None:
    # GIVEN the payload the Lambda hook guide documents
    event = LifecycleHookEvent.model_validate(
        {
            "executionId": "ecs-lambda-1",
            "lifecycleStage": "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "resourceArn": "arn:aws:ecs:ap-northeast-1:123456789012:service-deployment/dev/api/abc",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:ap-northeast-1:123456789012:service/dev/api",
                "targetServiceRevisionArn": "arn:aws:ecs:ap-northeast-1:123456789012:service-revision/dev/api/1",
                "testTrafficWeights": {},
                "productionTrafficWeights": {"rev-blue": 90, "rev-green": 10},
            },
            "hookDetails": {"anything": "the caller wrote"},
        }
    )
    assert event.execution_details.production_traffic_weights == {"rev-blue": 90.0, "rev-green": 10.0}
    assert event.execution_details.service_arn.endswith(":service/dev/api")


def test_event_sample_is_a_payload_the_hook_reads() -> None:
    sample = json.loads((ROOT / "events" / "ecs-lifecycle-hook.json").read_text())
    event = LifecycleHookEvent.model_validate(sample)
    assert event.lifecycle_stage == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    assert event.resource_arn.startswith("arn:aws:ecs:ap-northeast-1:123456789012:service-deployment/dev/web/")
