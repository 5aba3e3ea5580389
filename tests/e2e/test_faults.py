"""Fault injection on the embedded AWS: throttling, crashes mid-step, failed calls, dead lock holders,
bursts. Each ends with a correct deployment, or a clear failure that changed nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from ecs_handoff.errors import TransientAwsError
from ecs_handoff.models import Outcome, Phase
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from pytest import MonkeyPatch


@contextmanager
def failing(target: Any, method: str, code: str, times: int, status: int = 400) -> Iterator[list[int]]:
    """moto's backend method raises an AWS error `times` times, then works; yields the call count."""
    from moto.core.exceptions import JsonRESTError

    original = getattr(target, method)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] <= times:
            error = JsonRESTError(code, f"injected {code}")
            error.code = status
            raise error
        return original(*args, **kwargs)

    setattr(target, method, wrapper)
    try:
        yield calls
    finally:
        setattr(target, method, original)


def revisions(world: World, family: str) -> list[str]:
    """Every revision ever registered, oldest first (handoff deregisters its old ones: they stay, INACTIVE)."""
    arns = {  # a set: a revision retired between the two calls is listed by both
        arn
        for status in ("ACTIVE", "INACTIVE")
        for arn in world.ecs.list_task_definitions(familyPrefix=family, status=status)["taskDefinitionArns"]
    }
    return sorted(arns, key=lambda arn: int(arn.rsplit(":", 1)[-1]))


@pytest.mark.parametrize(
    ("service", "method"),
    [
        ("ecs", "register_task_definition"),
        ("ecs", "update_service"),
        ("ecs", "describe_services"),
        ("dynamodb", "update_item"),
    ],
)
def test_fault_throttling_is_retried_and_the_deployment_is_still_correct(
    world: World, service: str, method: str
) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.ecs.models import EC2ContainerServiceBackend

    target = {"ecs": EC2ContainerServiceBackend, "dynamodb": DynamoDBBackend}[service]
    code = "ThrottlingException" if service == "ecs" else "ProvisionedThroughputExceededException"
    before = revisions(world, "dev-worker")
    tag = f"dev-thr{method[:4]}"
    with failing(target, method, code, times=2) as calls:
        record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", tag)})), timeout=90)
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert calls[0] >= 3  # two throttled calls, then the retry that worked
    assert len(revisions(world, "dev-worker")) == len(before) + 1
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", tag))


def test_fault_step_functions_throttling_on_start_is_retried(world: World) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    with failing(StepFunctionsParserBackend, "start_execution", "ThrottlingException", times=2) as calls:
        record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-sfnthr")})))
    assert record.outcome is Outcome.SUCCEEDED and calls[0] >= 3


def test_fault_deploy_dies_after_register_and_is_retried_without_doubling(
    world: World, monkeypatch: MonkeyPatch
) -> None:
    import ecs_handoff.aws.ecs as ecs_access
    from moto.ecs.models import EC2ContainerServiceBackend

    # GIVEN the deploy function dies right after RegisterTaskDefinition, once
    original = ecs_access.update_service
    deaths = [0]

    def dies_once(*args: Any, **kwargs: Any) -> str:
        if deaths[0] == 0:
            deaths[0] += 1
            raise TransientAwsError("the sandbox died after RegisterTaskDefinition")
        return original(*args, **kwargs)

    monkeypatch.setattr(ecs_access, "update_service", dies_once)
    before = revisions(world, "dev-worker")
    update_calls: list[Any] = []
    real_update = EC2ContainerServiceBackend.update_service

    def counted_update(self: Any, props: Any) -> Any:
        update_calls.append(1)
        return real_update(self, props)

    monkeypatch.setattr(EC2ContainerServiceBackend, "update_service", counted_update)
    record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-retry01")})))
    # THEN Step Functions retried it: one new revision, one UpdateService, SUCCEEDED
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert deaths[0] == 1
    assert len(revisions(world, "dev-worker")) == len(before) + 1
    assert len(update_calls) == 1


def test_fault_update_service_refused_is_failed_and_service_unchanged(world: World) -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    before = world.running("dev", "worker")["task_definition"]
    with failing(EC2ContainerServiceBackend, "update_service", "AccessDeniedException", times=100):
        record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-denied")})))
    assert record.outcome is Outcome.FAILED
    assert "AWS refused a call" in record.reason and "AccessDeniedException" in record.reason
    assert "the service was not changed" in record.reason
    assert world.running("dev", "worker")["task_definition"] == before


def test_fault_lock_holder_dies_and_the_next_deployment_takes_over(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN a deployment stuck rolling out, whose execution is then stopped by hand (it never unlocks)
    embedded.hold_rollouts()
    stuck = world.upload("dev", "worker", artifact({"app": image("worker", "dev-stuck00")}))
    world.wait_phase("dev", stuck, "deploying")
    sfn = embedded.client("stepfunctions")
    sfn.stop_execution(executionArn=world.records("dev").get(stuck).execution_arn)  # type: ignore[union-attr]
    # WHEN the next upload arrives
    embedded.rollout_seconds = 0.5
    record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-after00")})))
    # THEN it takes the lock over from the dead holder instead of waiting for the lease
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-after00"))


@pytest.mark.slow
def test_fault_twenty_uploads_in_a_second_are_serialised_and_the_newest_wins(
    world: World, embedded: EmbeddedAws
) -> None:
    embedded.rollout_seconds = 0.3
    # back to back, in order (about a second here; how fast is for `make bench`, not for a test to assert)
    ids = [world.upload("dev", "worker", artifact({"app": image("worker", f"dev-burst{i:02d}")})) for i in range(20)]
    records = [world.wait("dev", i, timeout=120) for i in ids]
    outcomes = [r.outcome for r in records]
    assert outcomes[-1] is Outcome.SUCCEEDED
    assert set(outcomes[:-1]) <= {Outcome.SUPERSEDED, Outcome.SUCCEEDED}, [(r.outcome, r.reason) for r in records]
    assert outcomes.count(Outcome.SUPERSEDED) >= 10  # most; a few may finish before the next upload lands
    assert world.running("dev", "worker")["images"]["app"] == world.pinned(image("worker", "dev-burst19"))
    # deployments that ran never overlapped
    ran = sorted((r.timeline["locked"], r.timeline["finished"]) for r in records if "locked" in r.timeline)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ran))


@pytest.mark.slow
def test_fault_fifty_services_uploading_at_once_all_deploy(world: World, new_service: Any) -> None:
    # GIVEN 50 services Terraform registered
    for n in range(50):
        new_service("dev", f"svc{n:02d}", image(f"dev-svc{n:02d}", "dev-0"))
    # WHEN all 50 upload at once
    ids = [world.upload("dev", f"svc{n:02d}", artifact({"app": image(f"dev-svc{n:02d}", "dev-1")})) for n in range(50)]
    records = [world.wait("dev", i, timeout=180) for i in ids]
    # THEN every one deployed its own image
    assert [r.outcome for r in records] == [Outcome.SUCCEEDED] * 50, [
        r.reason for r in records if r.outcome is not Outcome.SUCCEEDED
    ]
    for n in range(50):
        assert world.running("dev", f"svc{n:02d}")["images"]["app"] == world.pinned(image(f"dev-svc{n:02d}", "dev-1"))


def test_fault_deploy_dies_between_update_service_and_record_and_the_retry_finds_what_it_did(
    world: World, embedded: EmbeddedAws, monkeypatch: MonkeyPatch
) -> None:
    from ecs_handoff.aws.records import DeploymentRecords

    # GIVEN the deploy function dies after RegisterTaskDefinition and UpdateService, before its record write
    original = DeploymentRecords.update
    deaths = [0]

    def dies_once(self: Any, deployment_id: str, phase: Phase | None = None, **kwargs: Any) -> None:
        if phase is Phase.DEPLOYING and deaths[0] == 0:
            deaths[0] += 1
            raise TransientAwsError("the sandbox died before recording the new revision")
        original(self, deployment_id, phase=phase, **kwargs)

    monkeypatch.setattr(DeploymentRecords, "update", dies_once)
    before = revisions(world, "dev-worker")
    running_before = world.running("dev", "worker")["task_definition"]
    updates_before = len([e for e in embedded.ecs_events if e["detail"]["eventName"].endswith("IN_PROGRESS")])
    record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-window1")})))
    # THEN the retry (RetryCount 1) finds the revision by its deployment-id tag and the service already on
    # it, instead of registering or updating again
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert deaths[0] == 1
    assert len(revisions(world, "dev-worker")) == len(before) + 1
    assert record.new_task_definition == revisions(world, "dev-worker")[-1]
    updates = len([e for e in embedded.ecs_events if e["detail"]["eventName"].endswith("IN_PROGRESS")])
    assert updates == updates_before + 1  # one ECS deployment
    assert record.previous_task_definition == running_before  # recovered from ECS's own deployments list
