"""Release controls before each production traffic shift, and `handoff rollback` in the middle of one, through
the real ASL on the embedded AWS: dev's api deployed LINEAR by the embedded ECS, handoff's lifecycle hook invoked
with the stack's role and running with its own (IAM enforced)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ecs_handoff.logic import lifecycle_hook
from ecs_handoff.models import Outcome
from ecs_handoff.models.hooks import LifecycleHookAnswer, LifecycleHookEvent
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World
from pytest import CaptureFixture

from tests.e2e.release_gates import ALARM, FAST, upload, wait_for
from tests.e2e.traffic import deployed_by_ecs

# Two production steps of 50 %; between them a bake of 5 AWS minutes (about 1.7 s here): time to act.
LINEAR = {"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 5}}


def until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)


def test_an_alarm_between_linear_steps_holds_the_next_production_shift(
    world: World, embedded: EmbeddedAws, registry: Any, alarm: Any
) -> None:
    # GIVEN dev's api deployed LINEAR by ECS with handoff's hook, and a blocking alarm (OK at the upload)
    registry("dev", "api", blocking_alarms=[ALARM], **FAST)
    with deployed_by_ecs(embedded, "dev", "api", LINEAR) as traffic:
        deployment = upload(world, "dev-lin0001")
        # WHEN the alarm goes to ALARM once half of production is on green
        until(lambda: traffic.weights() == (50, 50))
        alarm("ALARM", "5xx above 10")
        # THEN the next shift waits: the record says why, production stays half and half
        held = wait_for(world, deployment, "waiting_for_alarm")
        assert f"alarm {ALARM} is in ALARM: 5xx above 10" in held.gate["reason"]
        assert held.gate["production_percent"] == "50"
        time.sleep(0.5)
        assert traffic.weights() == (50, 50)
        # WHEN the alarm is OK again THEN the deployment shifts the rest and succeeds
        alarm("OK")
        done = world.wait("dev", deployment)
        assert done.outcome is Outcome.SUCCEEDED, done.reason
        assert traffic.weights() == (0, 100)
        assert [(h["event"], h["production_percent"]) for h in done.release_holds] == [
            ("held", "50"),
            ("released", "50"),
        ]


class _HookByClock:
    """The lifecycle hook function's `lifecycle_hook` module, answering by a fixed clock: the handler calls
    `answer(event, ctx)` and the clock is `answer`'s `now` (the module's own `utcnow` is shared by every function
    in this process), so the handler gets this in its place."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now

    def __getattr__(self, name: str) -> Any:
        return getattr(lifecycle_hook, name)

    def answer(self, event: LifecycleHookEvent, ctx: lifecycle_hook.HookContext) -> LifecycleHookAnswer:
        return lifecycle_hook.answer(event, ctx, now=self.now)


def _hook_answers(embedded: EmbeddedAws, after: int) -> list[str]:
    """hookStatus of each answer dev's lifecycle hook function gave since the `after`-th invocation (any function)."""
    assert embedded.runner is not None
    return [
        json.loads(i.output)["hookStatus"]
        for i in embedded.runner.invocations[after:]
        if i.function == "handoff-dev-lifecycle-hook" and i.error is None
    ]


def test_a_window_closing_between_linear_steps_holds_the_next_production_shift(
    world: World, embedded: EmbeddedAws, registry: Any, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    # GIVEN dev's api deployed LINEAR by ECS with handoff's hook, and a deploy window open at the upload: from an
    # hour before to two hours after (a fixed clock for the gate, deploy and lifecycle hook functions)
    runner = embedded.runner
    assert runner is not None
    opened = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    at = [opened]
    undo = [runner.replace(f"handoff-dev-{fn}", "utcnow", lambda: at[0]) for fn in ("gate", "deploy")]
    undo.append(runner.replace("handoff-dev-lifecycle-hook", "lifecycle_hook", _HookByClock(lambda: at[0])))
    try:
        hours = f"{opened - timedelta(hours=1):%H}:00-{opened + timedelta(hours=2):%H}:00"
        registry("dev", "api", deploy_windows=[{"hours": hours}], **FAST)
        with deployed_by_ecs(embedded, "dev", "api", LINEAR) as traffic:
            start = len(runner.invocations)
            deployment = upload(world, "dev-lin0004")
            # WHEN the window closes once half of production is on green (six hours later by the clock)
            until(lambda: traffic.weights() == (50, 50))
            at[0] = opened + timedelta(hours=6)
            # THEN the next shift waits: the hook answers IN_PROGRESS, the record and `handoff status` say why,
            # production stays half and half
            held = wait_for(world, deployment, "waiting_for_window")
            assert f"outside the deployment windows (* {hours} UTC)" in held.gate["reason"], held.gate
            assert held.gate["production_percent"] == "50"
            assert held.gate["opens_at"] == f"{opened + timedelta(days=1, hours=-1):%Y-%m-%dT%H}:00:00.000Z"
            until(lambda: _hook_answers(embedded, start).count("IN_PROGRESS") >= 3)
            # (the hook writes the phase, then the hold: read the hold once it has answered)
            again = world.records("dev").get(deployment)
            assert again is not None and again.phase == "waiting_for_window"
            assert [(h["event"], h["production_percent"]) for h in again.release_holds] == [("held", "50")]
            assert _hook_answers(embedded, start)[0] == "SUCCEEDED"  # the first shift, in the window
            assert traffic.weights() == (50, 50)
            capsys.readouterr()
            assert main(["status", "--env", "dev", "--service", "api", "--json"]) == 0
            [status] = json.loads(capsys.readouterr().out)["dev"]
            shown = status["in_flight"]
            assert (shown["id"], shown["phase"]) == (deployment, "waiting_for_window")
            assert shown["now"] == f"waiting_for_window: {held.gate['reason']}"
            # WHEN the window opens again (the next day) THEN the shift goes on and the deployment succeeds
            at[0] = opened + timedelta(days=1)
            done = world.wait("dev", deployment)
            assert done.outcome is Outcome.SUCCEEDED, done.reason
            assert traffic.weights() == (0, 100)
            assert _hook_answers(embedded, start)[-1] == "SUCCEEDED"
            assert [(h["event"], h["production_percent"]) for h in done.release_holds] == [
                ("held", "50"),
                ("released", "50"),
            ]
            assert done.gate == {}
    finally:
        for each in undo:
            each()


def test_handoff_rollback_stops_a_linear_deployment_where_it_is(
    world: World, embedded: EmbeddedAws, registry: Any, capsys: CaptureFixture[str]
) -> None:
    from ecs_handoff_cli.main import main

    # GIVEN a LINEAR deployment with half of production on green (a long bake before the rest)
    registry("dev", "api", override_principals=["arn:aws:sts::123456789012:user/*"], **FAST)
    slow = {**LINEAR, "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 600}}
    with deployed_by_ecs(embedded, "dev", "api", slow) as traffic:
        deployment = upload(world, "dev-lin0002")
        until(lambda: traffic.weights() == (50, 50))
        # WHEN the operator rolls back
        capsys.readouterr()
        code = main(["rollback", "--env", "dev", "--service", "api", "--reason", "INC-7: 5xx on green", "--json"])
        said = json.loads(capsys.readouterr().out)
        # THEN ECS stopped it: production back on blue at once, the deployment FAILED, who and why recorded
        assert (code, said["stopped"], said["deployment_id"]) == (0, True, deployment)
        until(lambda: traffic.weights() == (100, 0))
        done = world.wait("dev", deployment)
        assert done.outcome is Outcome.FAILED
        assert any("rollback by arn:aws:sts::123456789012:user/moto: INC-7: 5xx on green" in n for n in done.notes)


def test_an_alarm_during_the_bake_rolls_a_linear_service_back_through_the_hook(
    world: World, embedded: EmbeddedAws, registry: Any, alarm: Any
) -> None:
    # GIVEN dev's api deployed LINEAR by ECS with handoff's hook, a blocking alarm and a bake after the rollout
    registry("dev", "api", blocking_alarms=[ALARM], bake_seconds=30, **FAST)
    with deployed_by_ecs(embedded, "dev", "api", LINEAR):
        before = world.running("dev", "api")["task_definition"]
        deployment = upload(world, "dev-lin0003")
        wait_for(world, deployment, "baking")
        # WHEN the alarm goes to ALARM during the bake (handoff's rollback: UpdateService back to `before`, a new
        # service deployment whose production shifts the hook sees, the same alarm still in ALARM)
        alarm("ALARM", "5xx after the deploy")
        ended = world.wait("dev", deployment)
        assert ended.outcome is Outcome.FAILED and "rolled the service back to" in ended.reason, ended.reason
        ecs = embedded.client("ecs")
        newest = ecs.list_service_deployments(cluster="dev", service="api")["serviceDeployments"][0]
        arn = newest["serviceDeploymentArn"]
        until(
            lambda: (
                ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"]
                not in ("PENDING", "IN_PROGRESS")
            )
        )
        # THEN the hook let the rollback through (neither refused nor held by the alarm): the service is back on
        # the revision it ran before, and stays there
        status = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"]
        assert status == "SUCCESSFUL"
        assert world.running("dev", "api")["task_definition"] == before
