"""The hostile-input corpus (tests/hostile.py), uploaded through the embedded AWS: each case that needs the stack,
and one bad body of each kind, is refused with a reason a person can act on (or ignored when the event is not
handoff's), nothing deploys, nothing crashes, and a good artifact still deploys right after. The cases the
artifact reader alone refuses are checked against it in tests/unit/test_hostile_corpus.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ecs_handoff.models import SERVICE_ID_PATTERN, Outcome, execution_name
from ecs_handoff_embedded.gaps import next_sequencer
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.helpers import s3_event
from tests.hostile import BUCKET, CASES, GOOD_IMAGE, THROUGH_THE_STACK_TOO, Case

STACK_CASES = [c for c in CASES if not c.reader_only or c.name in THROUGH_THE_STACK_TOO]


@pytest.fixture(scope="module")
def corpus(embedded: EmbeddedAws) -> dict[str, Any]:
    """Runs every case once through the embedded AWS; the tests below read the results."""
    world = World(embedded)
    lam = embedded.client("lambda")
    ecs = embedded.client("ecs")
    revisions_before = ecs.list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"]
    running_before = world.running("dev", "api")["task_definition"]
    runner = embedded.runner
    assert runner is not None
    errors_before = len([i for i in runner.invocations if i.error])
    results: dict[str, object] = {}
    for case in STACK_CASES:
        if case.event is not None:
            response = lam.invoke(FunctionName="handoff-dev-intake", Payload=json.dumps(case.event))
            results[case.name] = json.loads(response["Payload"].read())
            continue
        world.push(case.body)  # valid images exist in ECR, as CI pushes before it uploads
        version = world.s3.put_object(Bucket=BUCKET, Key=case.key, Body=case.body)["VersionId"]
        service = case.key.rsplit("/", 1)[0]
        deployment_id = execution_name(service if SERVICE_ID_PATTERN.match(service) else "_invalid", version)
        results[case.name] = world.wait("dev", deployment_id, timeout=60)
    assert embedded.wait_idle(30)
    return {
        "results": results,
        "crashes": len([i for i in runner.invocations if i.error]) - errors_before,
        "revisions_before": revisions_before,
        "revisions_after": ecs.list_task_definitions(familyPrefix="dev-api")["taskDefinitionArns"],
        "running_before": running_before,
        "running_after": world.running("dev", "api")["task_definition"],
    }


@pytest.mark.parametrize("case", STACK_CASES, ids=[c.name for c in STACK_CASES])
def test_hostile_case_is_refused_with_a_reason_or_ignored(corpus: dict[str, Any], case: Case) -> None:
    result = corpus["results"][case.name]
    if case.expect:
        assert result.outcome is Outcome.INVALID, result.reason
        assert case.expect in result.reason
        assert result.new_task_definition is None
    else:
        assert result["action"] == "IGNORED", result


def test_hostile_corpus_deployed_nothing_and_crashed_nothing(corpus: dict[str, Any]) -> None:
    assert corpus["crashes"] == 0
    assert corpus["revisions_after"] == corpus["revisions_before"]
    assert corpus["running_after"] == corpus["running_before"]


def test_hostile_corpus_then_a_good_artifact_still_deploys(corpus: dict[str, Any], world: World) -> None:
    record = world.wait("dev", world.upload("dev", "api", artifact({"app-container": GOOD_IMAGE})))
    assert record.outcome is Outcome.SUCCEEDED
    assert world.running("dev", "api")["images"]["app-container"] == world.pinned(GOOD_IMAGE)


def test_hostile_replayed_event_starts_nothing_new(embedded: EmbeddedAws, world: World) -> None:
    # a replayed event (same version, same sequencer) after it was handled starts nothing new
    body = artifact({"app": image("worker", "dev-1")})
    world.push(body)
    version = world.s3.put_object(Bucket=BUCKET, Key="worker/imagedefinitions.json.zip", Body=body)["VersionId"]
    record = world.wait("dev", execution_name("worker", version))
    event = s3_event(BUCKET, "worker/imagedefinitions.json.zip", version, next_sequencer())
    answer = json.loads(
        embedded.client("lambda").invoke(FunctionName="handoff-dev-intake", Payload=json.dumps(event))["Payload"].read()
    )
    assert answer["action"] == "DUPLICATE" and answer["deployment_id"] == record.id
