"""ECS's own BLUE_GREEN, LINEAR and CANARY deployments through the real ASL, on the embedded world's `web`
services: prod's BLUE_GREEN asks its approvers while green serves only the test listener (a PAUSE hook at
POST_TEST_TRAFFIC_SHIFT), dev's LINEAR rolls back when its deployment alarm fires."""

from __future__ import annotations

import json
import time
from typing import Any

from ecs_handoff.models import Outcome, Phase
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image, listeners
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION

from tests.e2e.history import execution_ended
from tests.e2e.people import ALICE, BOB
from tests.e2e.rollout_events import EVENT_FUNCTION
from tests.e2e.transitions import state_transitions, without_fallback_looks


def release(world: World, tag: str) -> str:
    """Uploads a build of prod's web and waits until its approvers are asked (ECS holds green at the hook)."""
    deployment_id = world.upload("prod", "web", artifact({"app": image("web", tag)}))
    record = world.wait_phase("prod", deployment_id, "awaiting_approval", timeout=60)
    assert record.outcome is Outcome.AWAITING_APPROVAL, record.reason
    return deployment_id


def test_blue_green_approved_moves_production_traffic_only_after_the_decision(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN prod's web on blue
    rules = listeners(embedded, "prod")
    before = world.running("prod", "web")["task_definition"]
    # WHEN a build is uploaded
    deployment_id = release(world, "prod-b1a0001")
    # THEN the approvers are asked while green serves only the test listener: production stays 100/0 on blue
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (0, 100)
    email = world.approval_email(ALICE, deployment_id)
    assert "before production traffic moves" in email and "http://prod-web-" in email and ":8080" in email
    status, page = world.open(world.approval_link(ALICE, deployment_id))
    assert status == 200 and "Green is up on the test listener" in page and before.rsplit("/", 1)[-1] in page
    record = world.records("prod").get(deployment_id)
    assert record is not None and record.service_deployment["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert "ecs:POST_TEST_TRAFFIC_SHIFT" in record.timeline
    time.sleep(1.0)  # nothing moves while nobody has decided
    assert rules.weights("production") == (100, 0)
    # WHEN alice approves
    link = world.approval_link(ALICE, deployment_id)
    clicked = time.monotonic()
    assert world.decide(link, "approve", "looks good on :8080")[0] == 200
    # THEN ECS is told to continue within moments of the click (the workflow re-reads the decision first)
    ecs, arn = embedded.client("ecs"), record.service_deployment["arn"]
    while (
        ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["lifecycleHookDetails"][
            -1
        ]["status"]
        == "AWAITING_ACTION"
    ):
        assert time.monotonic() - clicked < 10, "ContinueServiceDeployment never came"
        time.sleep(0.02)
    click_to_continue = time.monotonic() - clicked
    assert click_to_continue < 5, click_to_continue
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN ECS moves production traffic to green, and ECS's verdict is the outcome
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert "approved by alice@example.com" in record.reason and "SUCCESSFUL" in record.reason
    assert rules.weights("production") == (0, 100)
    assert world.running("prod", "web")["images"]["app"] == world.pinned(image("web", "prod-b1a0001"))
    # AND the workflow took no look per stage: a handful of state transitions, approval included
    entered = state_transitions(embedded, "prod", deployment_id)
    assert len(entered) <= 20 and len(without_fallback_looks(entered)) == 14, entered
    assert entered.count("RequestTrafficApproval") == 1 and "RequestApproval" not in entered


def test_blue_green_rejected_rolls_green_back_and_production_never_moves(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN a build ECS holds on the test listener
    rules = listeners(embedded, "prod")
    before = world.running("prod", "web")["task_definition"]
    deployment_id = release(world, "prod-b1a0002")
    assert rules.weights("test") == (0, 100)
    # WHEN bob rejects it
    assert world.decide(world.approval_link(BOB, deployment_id), "reject", "green returns 500 on /health")[0] == 200
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN ECS rolled it back: test traffic back on blue, production never left it, the service on its revision
    assert record.outcome is Outcome.REJECTED, record.reason
    assert record.reason.startswith("rejected by bob@example.com: green returns 500 on /health; production traffic")
    assert "ECS rolled back" in record.reason
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (100, 0)
    assert world.running("prod", "web")["task_definition"] == before
    entered = state_transitions(embedded, "prod", deployment_id)
    assert "HoldProductionTraffic" in entered and "ReleaseProductionTraffic" not in entered


def test_blue_green_expired_rolls_green_back(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    # GIVEN approvers who have 5 s to decide
    registry("prod", "web", approval_timeout_seconds=5)
    rules = listeners(embedded, "prod")
    deployment_id = release(world, "prod-b1a0003")
    # WHEN nobody decides
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN it is EXPIRED, and ECS rolled green back
    assert record.outcome is Outcome.EXPIRED, record.reason
    assert record.reason.startswith("nobody approved within 5 s; production traffic never left the running revision")
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (100, 0)
    assert world.open(world.approval_link(ALICE, deployment_id))[0] == 410


def test_before_production_traffic_is_refused_on_a_rolling_service(world: World, registry: Any) -> None:
    # GIVEN prod's api (a rolling update, no PAUSE hook) with approval before production traffic
    registry("prod", "api", approval_stage="before_production_traffic")
    before = world.running("prod", "api")["task_definition"]
    # WHEN a build is uploaded
    record = world.wait("prod", world.upload("prod", "api", artifact({"app-container": image("api", "prod-b1a0004")})))
    # THEN the intake refuses it, saying what Terraform must change; nothing was deployed
    assert record.outcome is Outcome.INVALID
    refusal = "api's registry entry asks its approvers before production traffic, but its ECS service uses the ROLLING"
    assert refusal in record.reason
    assert world.running("prod", "api")["task_definition"] == before


def test_linear_rolled_back_by_its_deployment_alarm(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN dev's web, whose LINEAR deployments roll back when dev-web-5xx goes to ALARM
    rules = listeners(embedded, "dev")
    before = world.running("dev", "web")["task_definition"]
    deployment_id = world.upload("dev", "web", artifact({"app": image("web", "dev-l1a0001")}))
    # WHEN the alarm fires once some production traffic has moved to green
    deadline = time.monotonic() + 60
    while not 0 < rules.weights("production")[1] < 100:
        assert time.monotonic() < deadline, rules.weights("production")
        time.sleep(0.05)
    world.alarm("dev-web-5xx", "ALARM", "5xx from green")
    try:
        record = world.wait("dev", deployment_id, timeout=60)
    finally:
        world.alarm("dev-web-5xx", "OK")
    # THEN ECS rolled back, and handoff's outcome names the alarm ECS named
    assert record.outcome is Outcome.FAILED, record.reason
    assert "ECS rolled back" in record.reason and "dev-web-5xx" in record.reason
    assert rules.weights("production") == (100, 0)
    assert world.running("dev", "web")["task_definition"] == before
    assert record.phase is Phase.FINISHED


def test_linear_with_ten_steps_costs_no_transition_per_step(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN dev's web moving production traffic in ten 10 % steps (each step's bake scaled to about 1 s)
    ecs = embedded.client("ecs")
    saved = ecs.describe_services(cluster="dev", services=["web"])["services"][0]["deploymentConfiguration"]
    ten_steps = {**saved, "linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": 3}}
    ecs.update_service(cluster="dev", service="web", deploymentConfiguration=ten_steps)
    try:
        deployment_id = world.upload("dev", "web", artifact({"app": image("web", "dev-l1a0002")}))
        record = world.wait("dev", deployment_id, timeout=90)
    finally:
        ecs.update_service(cluster="dev", service="web", deploymentConfiguration=saved)
    # THEN it SUCCEEDED on ECS's verdict, and ten steps cost no more transitions than one
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert listeners(embedded, "dev").weights("production") == (100, 0)  # green is the new blue
    entered = state_transitions(embedded, "dev", deployment_id)
    assert len(entered) <= 20 and len(without_fallback_looks(entered)) == 10, entered  # as for a single step


def test_canary_succeeds(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN dev's web as a CANARY service (5 % first, then the rest)
    ecs = embedded.client("ecs")
    saved = ecs.describe_services(cluster="dev", services=["web"])["services"][0]["deploymentConfiguration"]
    canary = {k: v for k, v in saved.items() if k not in ("linearConfiguration", "strategy")} | {
        "strategy": "CANARY",
        "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 3},
    }
    ecs.update_service(cluster="dev", service="web", deploymentConfiguration=canary)
    rules = listeners(embedded, "dev")
    seen: set[tuple[int, int]] = set()
    try:
        deployment_id = world.upload("dev", "web", artifact({"app": image("web", "dev-c1a0001")}))
        deadline = time.monotonic() + 60
        while (record := world.records("dev").get(deployment_id)) is None or not record.outcome.terminal:
            seen.add(rules.weights("production"))
            assert time.monotonic() < deadline
            time.sleep(0.05)
        record = world.wait("dev", deployment_id)
    finally:
        ecs.update_service(cluster="dev", service="web", deploymentConfiguration=saved)
    # THEN the canary took 5 % of production first, then ECS moved the rest and SUCCEEDED
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert (95, 5) in seen and "CANARY" in record.reason
    assert rules.weights("production") == (0, 100)


HOOK_SOURCE = '''
def handler(event, context):
    """Holds the deployment for three calls (IN_PROGRESS, counting in hookDetails), then lets it go on."""
    calls = int((event.get("hookDetails") or {}).get("calls", 0)) + 1
    if calls < 4:
        return {"hookStatus": "IN_PROGRESS", "callBackDelay": 30, "hookDetails": {"calls": calls}}
    return {"hookStatus": "SUCCEEDED"}
'''


def test_a_lambda_hook_answering_in_progress_several_times_costs_the_workflow_nothing(
    world: World, embedded: EmbeddedAws, tmp_path: Any
) -> None:
    # GIVEN a Lambda hook at POST_SCALE_UP on dev's web that answers IN_PROGRESS three times, with a role ECS
    # may assume and that may invoke it (the embedded ECS checks both)
    import io
    import json
    import zipfile

    name = "dev-web-scale-up-check"
    (tmp_path / "scale_up_check.py").write_text(HOOK_SOURCE, encoding="utf-8")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("scale_up_check.py", HOOK_SOURCE)
    iam, lambdas = embedded.client("iam"), embedded.client("lambda")
    trust = {"Service": "ecs.amazonaws.com"}
    role = iam.create_role(
        RoleName=f"{name}-ecs",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": trust, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]["Arn"]
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
    allow = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}
    iam.put_role_policy(
        RoleName=f"{name}-ecs",
        PolicyName="invoke",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    lambdas.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="scale_up_check.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    assert embedded.runner is not None
    embedded.runner.register(name, tmp_path)
    ecs = embedded.client("ecs")
    saved = ecs.describe_services(cluster="dev", services=["web"])["services"][0]["deploymentConfiguration"]
    hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": function_arn,
        "roleArn": role,
        "lifecycleStages": ["POST_SCALE_UP"],
    }
    ecs.update_service(cluster="dev", service="web", deploymentConfiguration={**saved, "lifecycleHooks": [hook]})
    try:
        # WHEN a build is deployed
        deployment_id = world.upload("dev", "web", artifact({"app": image("web", "dev-h1a0001")}))
        record = world.wait("dev", deployment_id, timeout=90)
    finally:
        ecs.update_service(cluster="dev", service="web", deploymentConfiguration=saved)
        lambdas.delete_function(FunctionName=name)
    # THEN ECS called the hook four times (its hookDetails carried from call to call) and went on to SUCCEEDED
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    calls = [i for i in embedded.runner.invocations if i.function == name]
    assert len(calls) == 4 and all(i.error is None for i in calls)
    # AND the workflow waited on ECS's verdict, not on the hook: no transition per call
    assert len(state_transitions(embedded, "dev", deployment_id)) <= 20


def test_handoffs_own_rollout_timeout_asks_ecs_to_roll_back(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    # GIVEN dev's web, whose ten-step LINEAR deployment (about 18 s) takes longer than the 5 s handoff allows it
    registry("dev", "web", rollout_timeout_seconds=5, rollout_check_seconds=1)
    ecs = embedded.client("ecs")
    saved = ecs.describe_services(cluster="dev", services=["web"])["services"][0]["deploymentConfiguration"]
    ecs.update_service(
        cluster="dev", service="web", deploymentConfiguration={**saved, "linearConfiguration": {"stepPercent": 10.0}}
    )
    rules = listeners(embedded, "dev")
    before = world.running("dev", "web")["task_definition"]
    try:
        # WHEN the timeout passes mid-deployment
        deployment_id = world.upload("dev", "web", artifact({"app": image("web", "dev-t1a0001")}))
        record = world.wait("dev", deployment_id, timeout=60)
    finally:
        ecs.update_service(cluster="dev", service="web", deploymentConfiguration=saved)
    # THEN handoff asked ECS to roll back (StopServiceDeployment), never UpdateService (which would start another
    # service deployment): traffic goes back to blue and the service to its revision
    assert record.outcome is Outcome.FAILED, record.reason
    assert "did not complete within 5 s" in record.reason and "StopServiceDeployment" in record.reason
    deadline = time.monotonic() + 30
    while rules.weights("production") != (100, 0) or world.running("dev", "web")["task_definition"] != before:
        assert time.monotonic() < deadline, (rules.weights("production"), world.running("dev", "web"))
        time.sleep(0.05)
    listed = ecs.list_service_deployments(cluster="dev", service="web")["serviceDeployments"]
    assert listed[0]["status"] in ("ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL")


def test_before_production_traffic_is_refused_on_a_service_without_its_pause_hook(world: World, registry: Any) -> None:
    # GIVEN dev's LINEAR web (no PAUSE hook) asking its approvers before production traffic
    registry("dev", "web", approval_required=True, approvers=[ALICE], approval_stage="before_production_traffic")
    # WHEN a build is uploaded  THEN the intake refuses it, naming the hook Terraform must add
    record = world.wait("dev", world.upload("dev", "web", artifact({"app": image("web", "dev-f1a0001")})))
    assert record.outcome is Outcome.INVALID
    assert "has no PAUSE lifecycle hook at POST_TEST_TRAFFIC_SHIFT" in record.reason


def test_a_forged_hook_event_decides_nothing(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN dev's LINEAR web rolling out
    deployment_id = world.upload("dev", "web", artifact({"app": image("web", "dev-f1a0002")}))
    record = world.wait_phase("dev", deployment_id, "rolling_out")
    service_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:service/dev/web"
    # WHEN someone allowed to invoke the event function sends it a well-formed "ECS Hook State Change"
    forged = {
        "version": "0",
        "id": "forged",
        "detail-type": "ECS Hook State Change",
        "source": "aws.ecs",
        "account": ACCOUNT_ID,
        "region": REGION,
        "resources": [],
        "detail": {
            "eventType": "INFO",
            "eventName": "HOOK_AWAITING_ACTION",
            "hookId": "forged",
            "hookType": "PAUSE",
            "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
            "serviceArn": service_arn,
            "serviceDeploymentArn": "forged",
        },
    }
    response = embedded.client("lambda").invoke(FunctionName=EVENT_FUNCTION, Payload=json.dumps(forged))
    said = json.loads(response["Payload"].read())
    # THEN ECS's own state decides (no PAUSE hook waits, no verdict yet): the wait is given back
    assert said["done"].startswith("ignored: ECS shows LINEAR"), said
    # AND the deployment goes on to ECS's verdict
    record = world.wait("dev", deployment_id, timeout=60)
    assert record.outcome is Outcome.SUCCEEDED, record.reason


def test_blue_green_superseded_while_held_rolls_back_and_the_newer_one_is_asked(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a build ECS holds on the test listener, its approvers not yet decided
    rules = listeners(embedded, "prod")
    older = release(world, "prod-b1a0005")
    old_link = world.approval_link(ALICE, older)
    # WHEN a newer build is uploaded
    newer = world.upload("prod", "web", artifact({"app": image("web", "prod-b1a0006")}))
    record = world.wait("prod", older, timeout=60)
    # THEN the older one is SUPERSEDED, rolled back by ECS (production never moved), its links dead
    assert record.outcome is Outcome.SUPERSEDED, record.reason
    assert newer in record.reason and "production traffic never left the running revision" in record.reason
    assert world.decide(old_link, "approve")[0] == 409
    # AND the newer one deploys once the older has rolled back, and its approvers are asked in turn
    assert world.wait_phase("prod", newer, "awaiting_approval", timeout=60).outcome is Outcome.AWAITING_APPROVAL
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (0, 100)
    world.decide(world.approval_link(BOB, newer), "reject", "cleanup")
    assert world.wait("prod", newer, timeout=60).outcome is Outcome.REJECTED


def test_a_rejection_after_terraform_changed_the_entry_still_rolls_green_back(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    # GIVEN a build ECS holds on the test listener
    rules = listeners(embedded, "prod")
    before = world.running("prod", "web")["task_definition"]
    deployment_id = release(world, "prod-b1a0005")
    # AND Terraform changes web's registry entry while the approvers decide (bob's CLI role is unmapped: the
    # request's copy of the entry no longer matches, so this deployment may not move production traffic any more)
    registry("prod", "web", approver_principals={})
    # WHEN bob rejects it
    assert world.decide(world.approval_link(BOB, deployment_id), "reject", "not this one")[0] == 200
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN ECS is still asked to roll green back at once (putting traffic back needs no authority to deploy):
    # test traffic back on blue, production never left it, and the record says ECS rolled back
    assert record.outcome is Outcome.REJECTED, record.reason
    assert "ECS rolled back" in record.reason, record.reason
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (100, 0)
    assert world.running("prod", "web")["task_definition"] == before


def test_a_release_retried_after_ecs_continued_does_not_roll_the_approved_build_back(
    world: World, embedded: EmbeddedAws, monkeypatch: Any
) -> None:
    import ecs_handoff.aws.service_deployments as sd_access
    from ecs_handoff.errors import TransientAwsError

    # GIVEN the traffic step dies once right after ECS accepted ContinueServiceDeployment (a throttled write, a
    # sandbox gone): Step Functions retries it, and by then ECS has moved past the PAUSE hook
    original = sd_access.continue_at_hook
    deaths: list[str] = []

    def dies_once_after(arn: str, hook_id: str, action: Any, ecs: Any = None) -> None:
        original(arn, hook_id, action, ecs)
        if not deaths and action is sd_access.HookAction.CONTINUE:
            deaths.append(hook_id)
            raise TransientAwsError("the sandbox died after ContinueServiceDeployment")

    monkeypatch.setattr(sd_access, "continue_at_hook", dies_once_after)
    rules = listeners(embedded, "prod")
    deployment_id = release(world, "prod-b1a0006")
    # WHEN alice approves
    assert world.decide(world.approval_link(ALICE, deployment_id), "approve", "fine")[0] == 200
    record = world.wait("prod", deployment_id, timeout=90)
    # THEN the retry finds production traffic already released: the approved build is not rolled back
    assert deaths, "the injected death did not happen"
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    assert rules.weights("production") == (0, 100)
    assert "HoldProductionTraffic" not in state_transitions(embedded, "prod", deployment_id)


def test_a_rejection_after_ecs_was_continued_outside_handoff_does_not_claim_production_never_moved(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a build ECS holds on the test listener
    rules = listeners(embedded, "prod")
    deployment_id = release(world, "prod-b1a0007")
    record = world.records("prod").get(deployment_id)
    assert record is not None
    arn = record.service_deployment["arn"]
    ecs = embedded.client("ecs")
    # AND someone with ecs:ContinueServiceDeployment lets it past the PAUSE hook outside handoff (the console)
    paused = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    hook = next(h["hookId"] for h in paused["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION")
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook, action="CONTINUE")
    deadline = time.monotonic() + 30
    while ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"] != (
        "SUCCESSFUL"
    ):
        assert time.monotonic() < deadline, "ECS did not finish the deployment"
        time.sleep(0.2)
    assert rules.weights("production") == (0, 100)
    # WHEN bob then rejects it
    assert world.decide(world.approval_link(BOB, deployment_id), "reject", "not this one")[0] == 200
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN the record is REJECTED and says what is true: the rejected build serves production traffic
    assert record.outcome is Outcome.REJECTED, record.reason
    assert "production traffic never left" not in record.reason, record.reason
    assert "serves production traffic" in record.reason, record.reason


def test_the_lock_is_held_while_the_approvers_decide_at_the_hook(
    world: World, embedded: EmbeddedAws, registry: Any
) -> None:
    from tests.e2e.locks import lock_item

    # GIVEN approvers who may take a week (the PAUSE hook waits as long), far longer than the rollout timeout
    registry("prod", "web", approval_timeout_seconds=604800, rollout_timeout_seconds=120)
    # WHEN a build is held at the hook for them
    deployment_id = release(world, "prod-b1a0008")
    # THEN its lock outlasts their wait: a newer upload meanwhile supersedes it (rolling it back) rather than
    # finding the lock expired and deploying over a deployment ECS still holds
    item = lock_item(embedded, "prod", "web")
    assert item is not None and item["holder"]["S"] == deployment_id
    assert int(item["lease_until"]["N"]) >= time.time() + 604800 - 60
    assert world.decide(world.approval_link(BOB, deployment_id), "reject", "done")[0] == 200
    assert world.wait("prod", deployment_id, timeout=60).outcome is Outcome.REJECTED


def test_a_newer_upload_supersedes_a_build_held_at_the_hook_and_ecs_rolls_it_back(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a build ECS holds on the test listener for its approvers
    rules = listeners(embedded, "prod")
    older = release(world, "prod-b1a0009")
    # WHEN a newer build is uploaded before they decide
    newer = world.upload("prod", "web", artifact({"app": image("web", "prod-b1a0010")}))
    # THEN the older one is SUPERSEDED, and ECS rolled it back (production never moved)
    record = world.wait("prod", older, timeout=90)
    assert record.outcome is Outcome.SUPERSEDED, record.reason
    assert "production traffic never left the running revision" in record.reason, record.reason
    assert world.open(world.approval_link(ALICE, older))[0] in (409, 410)
    # AND the newer one is deployed and held at the hook in its turn, its approvers asked
    held = world.wait_phase("prod", newer, "awaiting_approval", timeout=90)
    assert held.outcome is Outcome.AWAITING_APPROVAL, held.reason
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (0, 100)
    assert world.decide(world.approval_link(BOB, newer), "reject", "clean up")[0] == 200
    assert world.wait("prod", newer, timeout=60).outcome is Outcome.REJECTED


def test_the_traffic_function_invoked_directly_continues_nothing_without_the_approval(
    world: World, embedded: EmbeddedAws
) -> None:
    from tests.e2e.history import execution_arn

    # GIVEN a build ECS holds on the test listener, nobody has decided
    rules = listeners(embedded, "prod")
    deployment_id = release(world, "prod-b1a0011")
    started = embedded.client("stepfunctions").describe_execution(
        executionArn=execution_arn(embedded, "prod", deployment_id)
    )
    request = json.loads(started["input"])["request"]
    lam = embedded.client("lambda")

    def invoke(payload: dict[str, Any]) -> str:
        response = lam.invoke(FunctionName="handoff-prod-traffic", Payload=json.dumps(payload))
        return json.loads(response["Payload"].read()).get("errorMessage", "") if "FunctionError" in response else ""

    # WHEN someone allowed to invoke the traffic function asks it to continue, as the workflow would
    refused = invoke({"request": request, "action": "continue"})
    # THEN it is refused: the approval, read back from the approvals table, is not APPROVED
    assert "is PENDING, not APPROVED" in refused, refused
    # AND with another deployment's id in the request, it is refused too (the record is not that request's)
    forged = {**request, "deployment_id": "web-00000000-0000-0000-0000-000000000000"}
    assert "has no record" in invoke({"request": forged, "action": "continue"})
    # AND ECS still holds green on the test listener: production never moved
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (0, 100)
    assert world.decide(world.approval_link(BOB, deployment_id), "reject", "clean up")[0] == 200
    assert world.wait("prod", deployment_id, timeout=60).outcome is Outcome.REJECTED


def test_an_approval_that_cannot_be_asked_at_the_hook_rolls_green_back_and_says_it_was_deployed(
    world: World, embedded: EmbeddedAws
) -> None:
    from tests.e2e.test_approval_integrity import subscribed

    rules = listeners(embedded, "prod")
    # GIVEN a stranger subscribed to alice's approval topic (no link may go out)
    with subscribed(embedded, "alice@example.com", "mallory@evil.example") as arn:
        # WHEN a build of prod's web reaches its PAUSE hook
        record = world.wait("prod", world.upload("prod", "web", artifact({"app": image("web", "prod-b1a0012")})))
    # THEN it FAILED naming the subscription, ECS rolled green back, and the record does not claim that nothing
    # was deployed: the new revision ran on the test listener
    assert record.outcome is Outcome.FAILED, record.reason
    assert arn in record.reason
    assert "nothing was deployed" not in record.reason, record.reason
    assert "the new one served only the test listener" in record.reason, record.reason
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (100, 0)


def test_stopping_the_execution_while_ecs_holds_green_rolls_green_back_at_once(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a build ECS holds on the test listener at its PAUSE hook (a week's timeout) while the approvers decide
    rules = listeners(embedded, "prod")
    before = world.running("prod", "web")["task_definition"]
    deployment_id = release(world, "prod-b1a0stop")
    held = world.records("prod").get(deployment_id)
    assert held is not None and held.execution_arn is not None and rules.weights("test") == (0, 100)
    # WHEN an operator stops the execution by hand
    embedded.client("stepfunctions").stop_execution(
        executionArn=held.execution_arn, error="Operator", cause="stopped by carol for INC-77"
    )
    record = world.wait("prod", deployment_id, timeout=60)
    # THEN nobody can approve it any more, so the finalizer rolls the hold back now, not in a week: test traffic
    # back on blue, production never moved, and the record says so
    assert record.outcome is Outcome.FAILED, record.reason
    assert "the workflow was stopped (StopExecution)" in record.reason and "INC-77" in record.reason
    assert record.reason.endswith(
        "ECS held the new revision at its PAUSE hook for approvers nobody can ask any more: handoff rolled it back "
        "there (production traffic never left the running revision)"
    )
    ecs, arn = embedded.client("ecs"), held.service_deployment["arn"]
    deadline = time.monotonic() + 30
    while ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]["status"] not in (
        "ROLLBACK_SUCCESSFUL",
        "ROLLBACK_FAILED",
    ):
        assert time.monotonic() < deadline, "ECS never rolled the held deployment back"
        time.sleep(0.05)
    described = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    assert rules.weights("production") == (100, 0) and rules.weights("test") == (100, 0)
    assert world.running("prod", "web")["task_definition"] == before
    assert world.open(world.approval_link(ALICE, deployment_id))[0] in (409, 410)


def test_a_held_build_whose_stop_event_was_lost_is_rolled_back_by_the_sweeper(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN a build ECS holds at its PAUSE hook, whose execution is stopped and whose status event is lost
    rules = listeners(embedded, "prod")
    deployment_id = release(world, "prod-b1a0swep")
    held = world.records("prod").get(deployment_id)
    assert held is not None and held.execution_arn is not None
    embedded.drop_execution_status_events = True
    try:
        embedded.client("stepfunctions").stop_execution(executionArn=held.execution_arn, error="Operator", cause="x")
        assert execution_ended(embedded, held.execution_arn) == "ABORTED"
        assert embedded.wait_idle(60)
    finally:
        embedded.drop_execution_status_events = False
    # WHEN prod's sweeper runs (in its own role)
    embedded.fire_schedule("handoff-prod-sweeper")
    assert embedded.wait_idle(60)
    record = world.wait("prod", deployment_id, timeout=30)
    # THEN it finalizes the deployment and rolls the hold back as the finalizer would
    assert record.outcome is Outcome.FAILED
    assert record.reason.endswith("handoff rolled it back there (production traffic never left the running revision)")
    deadline = time.monotonic() + 30
    while rules.weights("test") != (100, 0):
        assert time.monotonic() < deadline, "green still holds the test listener"
        time.sleep(0.05)
    assert rules.weights("production") == (100, 0)
