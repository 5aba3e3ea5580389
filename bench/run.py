"""`make bench`: handoff measured next to fabfuel's ecs-deploy on the same embedded AWS, in one run.

Prints a table and writes bench/results/latest.json. Absolute times on shared machines are noise;
the ratios against the peer measured in the same run are the figures to read."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
PRICES = json.loads((ROOT / "bench" / "prices.json").read_text())
QUICK = "--quick" in sys.argv
N_DEPLOY = 10 if QUICK else 30
N_E2E = 10 if QUICK else 30
N_COLD = 3 if QUICK else 7
N_VERDICT = 6 if QUICK else 20
N_FALLBACK = 2 if QUICK else 5
BURST_SERVICES = 10 if QUICK else 50
N_BLUE_GREEN = 3 if QUICK else 5


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def counting(client: Any, counter: Counter[str]) -> Any:
    """Counts API calls with a botocore event hook (one count per call, retries included)."""
    client.meta.events.register("before-call.*.*", lambda model, **_: counter.update([model.name]))
    return client


# --- 1. deploy step ---------------------------------------------------------------------------


def bench_deploy_step(aws: Any) -> dict[str, Any]:
    from ecs_deploy.ecs import DeployAction, EcsClient
    from ecs_handoff.aws.approvals import ApprovalStore
    from ecs_handoff.aws.clients import client
    from ecs_handoff.aws.records import DeploymentRecords
    from ecs_handoff.aws.release_controls import Overrides
    from ecs_handoff.aws.state import ServiceState
    from ecs_handoff.logic.authority import Where
    from ecs_handoff.logic.deploy import Guards, authorize, deploy
    from ecs_handoff.models import (
        DeploymentRecord,
        DeploymentRequest,
        ImageDefinition,
        Outcome,
        ServiceConfig,
        Source,
        iso,
        utcnow,
    )
    from ecs_handoff_embedded.scenario import image
    from ecs_handoff_embedded.seed import pinned_image, push_image

    outputs = aws.stacks["dev"].outputs
    records = DeploymentRecords(outputs["DeploymentsTableName"])
    approvals = ApprovalStore(outputs["ApprovalsTableName"])
    where = Where("dev", outputs["RegistryPrefix"], False, outputs["DefaultRegistry"])
    state = ServiceState(outputs["StateTableName"])
    guards = Guards(approvals, state, Overrides(outputs["StateTableName"]), lambda: b"")
    ecr = aws.session().client("ecr")
    ours_ecs: Counter[str] = Counter()
    ecs = counting(aws.session().client("ecs"), ours_ecs)
    peer = EcsClient(access_key_id="testing", secret_access_key="testing", region="ap-northeast-1")
    peer_ecs: Counter[str] = Counter()
    counting(peer.boto, peer_ecs)
    base = json.loads(
        aws.session().client("ssm").get_parameter(Name=f"{outputs['RegistryPrefix']}/api")["Parameter"]["Value"]
    )["task_definition"]  # the exact base the registry names
    ours_ecs.clear()
    client("dynamodb")
    ours_t: list[float] = []
    peer_t: list[float] = []
    deploy_calls: list[int] = []
    for i in range(N_DEPLOY):
        # what the intake would have seen running (it describes the service before the workflow starts)
        running_arn = ecs.describe_services(cluster="dev", services=["api"])["services"][0]["taskDefinition"]
        running = ecs.describe_task_definition(taskDefinition=running_arn)["taskDefinition"]
        tagged = {
            "app-container": image("api", f"dev-b{i:05d}"),
            "nginx-container": image("api-nginx", f"dev-b{i:05d}"),
        }
        for uri in tagged.values():  # CI pushed them; the intake pinned each to its digest
            push_image(ecr, uri)
        images = {name: pinned_image(ecr, uri) for name, uri in tagged.items()}
        deployment_id = f"bench-{i}-{time.time_ns()}"
        definitions = [ImageDefinition(name=k, image_uri=v) for k, v in images.items()]
        source = Source(bucket="b", key="api/imagedefinitions.json.zip", object_version=deployment_id, sequencer="0")
        request = DeploymentRequest(
            deployment_id=deployment_id,
            env="dev",
            service_id="api",
            service=ServiceConfig(cluster="dev", service="api", task_definition=base),
            base_task_definition=base,
            images=definitions,
            source=source,
            requested_at=iso(utcnow()),
            running_task_definition=running["taskDefinitionArn"],
            running_images={c["name"]: c["image"] for c in running["containerDefinitions"]},
        )
        # the record the intake writes: what the deploy step re-reads instead of trusting the request
        records.create(
            DeploymentRecord(
                id=deployment_id,
                env="dev",
                service="api",
                outcome=Outcome.IN_PROGRESS,
                started_at=iso(utcnow()),
                source=source,
                base_task_definition=base,
                validated_images=definitions,
            )
        )
        state.acquire_lock("api", deployment_id, f"arn:bench:{deployment_id}", 600)  # as the lock step does
        time.sleep(0.06)  # let the previous simulated rollout finish, outside the timing
        calls_before = sum(ours_ecs.values())
        started = time.perf_counter()
        allowed = authorize(request, where, records, guards, ecs_client=ecs)  # its reads are part of the step
        deploy(request, allowed, records, ecs_client=ecs)
        ours_t.append(time.perf_counter() - started)
        state.release_lock("api", deployment_id)  # as its Finalize would
        deploy_calls.append(sum(ours_ecs.values()) - calls_before)

        time.sleep(0.06)
        peer_images = {
            "app-container": image("api", f"dev-p{i:05d}"),
            "nginx-container": image("api-nginx", f"dev-p{i:05d}"),
        }
        started = time.perf_counter()
        action = DeployAction(peer, "dev", "api")
        td = action.get_current_task_definition(action.service)
        previous = td
        td.set_images(**peer_images)
        new_td = action.update_task_definition(td)
        action.deploy(new_td)
        action.deregister_task_definition(previous)  # ecs-deploy's default (--deregister)
        peer_t.append(time.perf_counter() - started)
    return {
        "deploys_each": N_DEPLOY,
        "ecs_calls_per_deploy": sum(deploy_calls) / N_DEPLOY,
        "peer_ecs_calls_per_deploy": sum(peer_ecs.values()) / N_DEPLOY,
        "ecs_calls_by_operation": "see deploy step in docs/performance.md",
        "peer_ecs_calls": dict(peer_ecs),
        "deploy_median_s": statistics.median(ours_t),
        "peer_deploy_median_s": statistics.median(peer_t),
        "deploy_time_ratio_vs_peer": statistics.median(ours_t) / statistics.median(peer_t),
    }


# --- 2. cold start ------------------------------------------------------------------------------

# A function's cold start, up to the point where it can make its first AWS call: its module imported, and
# the first client created (handoff creates clients on first use, so the import alone would flatter it).
COLD_HANDLER = """
import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from ecs_handoff.aws.clients import client
client("ecs")
print(time.perf_counter() - t)
"""
COLD_BOTO3 = """
import time
t = time.perf_counter()
import boto3
boto3.client("ecs", region_name="ap-northeast-1")
print(time.perf_counter() - t)
"""


def bench_cold_start() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANDOFF_", "AWS_ENDPOINT"))}
    env.update({"AWS_DEFAULT_REGION": "ap-northeast-1"})

    def run(code: str, *args: str, extra: dict[str, str] | None = None) -> float:
        out = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env={**env, **(extra or {})},
            check=True,
        )
        return float(out.stdout.strip().splitlines()[-1])

    functions = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())
    from ecs_handoff_embedded.provision import function_variables

    variables = function_variables(ROOT)  # each handler reads its settings at import, as at a cold start
    samples: dict[str, list[float]] = {name: [] for name in functions}
    baseline: list[float] = []
    for _ in range(N_COLD):  # interleaved, so machine noise hits both sides alike
        baseline.append(run(COLD_BOTO3))
        for name in functions:
            samples[name].append(run(COLD_HANDLER, str(ROOT / "functions" / name / "app.py"), extra=variables[name]))
    base = statistics.median(baseline)
    per_function = {
        name: {"median_s": statistics.median(v), "ratio_vs_boto3_client": statistics.median(v) / base}
        for name, v in samples.items()
    }
    return {
        "boto3_client_median_s": base,
        "cold_start": per_function,
        "cold_start_ratio_max": max(f["ratio_vs_boto3_client"] for f in per_function.values()),
        "cold_start_worst_function": max(per_function, key=lambda n: per_function[n]["ratio_vs_boto3_client"]),
    }


# --- 3. end to end ------------------------------------------------------------------------------


def bench_e2e(aws: Any) -> dict[str, Any]:
    from datetime import datetime

    from ecs_handoff.models import Outcome
    from ecs_handoff_embedded.scenario import World, artifact, image

    world = World(aws)
    aws.rollout_seconds = 0.0
    totals, to_update = [], []
    for i in range(N_E2E):
        started = time.time()
        deployment_id = world.upload("dev", "worker", artifact({"app": image("worker", f"dev-e{i:05d}")}))
        record = world.wait("dev", deployment_id, timeout=60)
        assert record.outcome is Outcome.SUCCEEDED, record.reason
        finished = datetime.fromisoformat(record.finished_at.replace("Z", "+00:00")).timestamp()  # type: ignore[union-attr]
        deploying = datetime.fromisoformat(record.timeline["deploying"].replace("Z", "+00:00")).timestamp()
        totals.append(finished - started)
        to_update.append(deploying - started)
    return {
        "e2e_runs": N_E2E,
        "e2e_p50_s": statistics.median(totals),
        "e2e_p95_s": pct(totals, 0.95),
        "upload_to_update_service_p50_s": statistics.median(to_update),
        "upload_to_update_service_p95_s": pct(to_update, 0.95),
    }


# --- 4. burst -----------------------------------------------------------------------------------


def bench_burst(aws: Any) -> dict[str, Any]:
    from ecs_handoff.models import Outcome
    from ecs_handoff_embedded.scenario import World, artifact, image
    from ecs_handoff_embedded.seed import add_simple_service

    world = World(aws)
    aws.rollout_seconds = 0.2
    for n in range(BURST_SERVICES):
        add_simple_service(aws.session(), "dev", f"burst{n:02d}", image(f"dev-burst{n:02d}", "dev-0"))
    from concurrent.futures import ThreadPoolExecutor

    bodies = {
        (n, r): artifact({"app": image(f"dev-burst{n:02d}", f"dev-{r}")})
        for n in range(BURST_SERVICES)
        for r in range(4)
    }
    ids: dict[str, list[str]] = {f"burst{n:02d}": [] for n in range(BURST_SERVICES)}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for round_ in range(4):  # each service's uploads in order; services in parallel
            futures = {
                n: pool.submit(world.upload, "dev", f"burst{n:02d}", bodies[(n, round_)]) for n in range(BURST_SERVICES)
            }
            for n, future in futures.items():
                ids[f"burst{n:02d}"].append(future.result())
    upload_seconds = time.monotonic() - started
    records = {service: [world.wait("dev", i, timeout=300) for i in dep_ids] for service, dep_ids in ids.items()}
    drained = time.monotonic() - started
    correct = True
    problems: list[str] = []
    for service, recs in records.items():
        running = world.running("dev", service)["images"]["app"]
        if running != world.pinned(image(f"dev-{service}", "dev-3")):  # handoff deploys the digest
            correct, problems = False, [*problems, f"{service} runs {running}"]
        if recs[-1].outcome is not Outcome.SUCCEEDED:
            correct, problems = False, [*problems, f"{service} newest ended {recs[-1].outcome}"]
        if any(r.outcome not in (Outcome.SUCCEEDED, Outcome.SUPERSEDED) for r in recs):
            said = [f"{r.outcome.value}: {r.reason}" if r.outcome is Outcome.FAILED else r.outcome.value for r in recs]
            correct, problems = False, [*problems, f"{service}: {said}"]
    all_records = [r for recs in records.values() for r in recs]
    duplicates = len(all_records) - len({r.id for r in all_records})
    return {
        "burst_services": BURST_SERVICES,
        "burst_uploads": BURST_SERVICES * 4,
        "burst_upload_seconds": upload_seconds,
        "burst_correct": correct and duplicates == 0,
        "burst_problems": problems[:5],
        "burst_drain_s": drained,
        "burst_superseded": sum(1 for r in all_records if r.outcome is Outcome.SUPERSEDED),
    }


# --- 5. rollout verdicts ---------------------------------------------------------------------------


def _seconds(timestamp: str | None) -> float:
    from datetime import datetime

    assert timestamp, "no timestamp recorded"
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def bench_verdicts(aws: Any) -> dict[str, Any]:
    """From ECS reporting the deployment COMPLETED or FAILED (the event's updatedAt) to handoff's outcome
    recorded: by ECS's event, then with every event dropped (the workflow's own look decides)."""
    from ecs_handoff.models import Outcome, VerdictSource
    from ecs_handoff_embedded.scenario import World, artifact, image

    world = World(aws)
    aws.rollout_seconds = 1.0  # the workflow already waits when ECS decides
    latency: dict[str, list[float]] = {"COMPLETED": [], "FAILED": []}
    decided_by: Counter[str] = Counter()
    by_look: list[str] = []
    for i in range(N_VERDICT):
        tag = f"fail-v{i:04d}" if i % 2 else f"dev-v{i:04d}"
        record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", tag)})))
        state = "FAILED" if i % 2 else "COMPLETED"
        assert record.outcome is (Outcome.FAILED if i % 2 else Outcome.SUCCEEDED), record.reason  # correctness
        decided_by[record.verdict_by.value if record.verdict_by else "none"] += 1
        if record.verdict_by is VerdictSource.EVENT:
            latency[state].append(_seconds(record.finished_at) - _seconds(record.ecs_reported_at))
        else:
            # Not a failure: the workflow's own look found ECS's verdict before the event function ended the
            # wait (on a loaded machine, the event function's first, cold invocation can outlast the look).
            by_look.append(f"run {i} ({state}): decided by {record.verdict_by}, not by ECS's event")
    both = latency["COMPLETED"] + latency["FAILED"]
    assert both, f"no rollout was decided by ECS's event: {by_look}"
    aws.drop_ecs_events = True
    fallback = []
    try:
        for i in range(N_FALLBACK):
            record = world.wait(
                "dev", world.upload("dev", "worker", artifact({"app": image("worker", f"dev-f{i:04d}")}))
            )
            assert record.verdict_by is VerdictSource.POLL and record.outcome is Outcome.SUCCEEDED, record
            fallback.append(_seconds(record.finished_at) - _seconds(record.ecs_reported_at))
    finally:
        aws.drop_ecs_events = False
    return {
        "verdict_runs": N_VERDICT,
        "verdict_decided_by": dict(decided_by),
        "verdict_decided_by_look": by_look,
        "verdict_latency_p50_s": statistics.median(both),
        "verdict_latency_max_s": max(both),
        "poll_fallback_verdict_s": statistics.median(fallback),
        "poll_fallback_check_seconds": aws.rollout_check_seconds,
        # kept from the polling workflow: how soon a FAILED rollout is noticed (now by ECS's event)
        "poll_interval_s": aws.rollout_check_seconds,
        "failure_detection_p50_s": statistics.median(latency["FAILED"] or both),
        "failure_detection_max_s": max(latency["FAILED"] or both),
        "failure_detected_within_one_poll": max(latency["FAILED"] or both) <= aws.rollout_check_seconds,
    }


# --- 6. cost -----------------------------------------------------------------------------------------


TRANSITIONS_PER_LOOK = 2  # a wait for ECS's event that times out: NoVerdictYet, then WatchRollout again


def _price(m: dict[str, float], api_requests: int, s3_gets: int) -> float:
    """A deployment's AWS bill from what it used (bench/prices.json)."""
    p = PRICES
    return float(
        m["lambda_invocations"] * p["lambda_usd_per_request"]
        + m["lambda_gb_seconds"] * p["lambda_arm64_usd_per_gb_second"]
        + m["state_transitions"] * p["stepfunctions_standard_usd_per_state_transition"]
        + m["dynamodb_writes"] * p["dynamodb_on_demand_usd_per_write_request_unit"]
        + m["dynamodb_reads"] * p["dynamodb_on_demand_usd_per_read_request_unit"]
        + m["sns_publishes"] * p["sns_usd_per_publish"]
        + m["emails"] * p["sns_usd_per_email_delivery"]
        + m["secrets_calls"] * p["secretsmanager_usd_per_api_call"]
        + api_requests * p["apigateway_http_api_usd_per_request"]
        + s3_gets * p["s3_usd_per_get_request"]
    )


def _transitions(aws: Any, execution_arn: str | None) -> int:
    """State transitions as Step Functions bills them: one per state entered, counted once the execution
    has ended (the record is final at Finalize; two states follow it)."""
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still running"
        time.sleep(0.05)
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return sum(1 for e in history if e["type"].endswith("StateEntered"))


def _with_default_checks(aws: Any, env: str, service: str) -> None:
    """The registry entry as Terraform's module writes it by default: ECS's events decide, the workflow
    looks by itself every 180 s (the embedded AWS seeds 2 s, so tests need not wait)."""
    from ecs_handoff.models import ServiceConfig

    ssm = aws.client("ssm")
    name = f"/handoff/{env}/services/{service}"
    entry = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    entry["rollout_check_seconds"] = ServiceConfig.model_fields["rollout_check_seconds"].default
    ssm.put_parameter(Name=name, Type="String", Overwrite=True, Value=json.dumps(entry))


def bench_cost(aws: Any) -> dict[str, Any]:
    """One prod deployment with approval, measured, then priced; a 5-minute rollout extrapolated from it."""
    from ecs_handoff.models import Outcome, ServiceConfig
    from ecs_handoff_embedded.scenario import World, artifact, image

    world = World(aws)
    a = PRICES["assumptions"]
    check_every = int(ServiceConfig.model_fields["rollout_check_seconds"].default)
    # Waits for ECS's event that time out during a real rollout: each looks at the deployment once more.
    extra_looks = max(0, math.ceil(a["real_rollout_seconds"] / check_every) - 1)
    for env in ("dev", "prod"):
        _with_default_checks(aws, env, "worker")
    aws.rollout_seconds = 2.5  # the workflow waits for ECS's event, as in a real rollout
    plain = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-cost000")})))
    assert plain.outcome is Outcome.SUCCEEDED, plain.reason

    calls_before = Counter(aws.authorizer.calls)  # every call the functions make, counted by the embedded AWS
    runner = aws.runner
    start_index = len(runner.invocations)
    emails_before = len(aws.outbox.messages())
    deployment_id = world.upload("prod", "worker", artifact({"app": image("worker", "prod-cost001")}))
    world.wait_phase("prod", deployment_id, "awaiting_approval")
    link = world.approval_link("alice@example.com", deployment_id)
    world.open(link)
    world.decide(link, "approve", "bench")
    record = world.wait("prod", deployment_id)
    assert record.outcome is Outcome.SUCCEEDED
    aws.wait_idle()
    calls = Counter(aws.authorizer.calls)
    calls.subtract(calls_before)
    invocations = runner.invocations[start_index:]
    memory_gb = 256 / 1024
    gb_seconds = sum(math.ceil(i.duration * 1000) / 1000 * memory_gb for i in invocations)
    ddb_writes = sum(calls[f"dynamodb:{k}"] for k in ("PutItem", "UpdateItem", "DeleteItem"))
    ddb_reads = sum(calls[f"dynamodb:{k}"] for k in ("GetItem", "Query"))
    emails = len(aws.outbox.messages()) - emails_before
    p = PRICES
    measured = {
        "lambda_invocations": len(invocations) + 2,  # + the two approval page requests (GET, POST) run through the API
        "lambda_gb_seconds": gb_seconds,
        "state_transitions": _transitions(aws, record.execution_arn),
        "dynamodb_writes": ddb_writes,
        "dynamodb_reads": ddb_reads,
        "sns_publishes": calls["sns:Publish"],
        "emails": emails,
        "secrets_calls": calls["secretsmanager:GetSecretValue"],
        "rollout_looks": sum(1 for i in invocations if i.function.endswith("-rollout")),
        "rollout_events_handled": sum(1 for i in invocations if i.function.endswith("-rollout-event")),
    }

    def price(m: dict[str, float]) -> float:
        return _price(m, api_requests=2, s3_gets=1)  # the approval page's GET and POST; the intake's read

    # Each extra look of a longer real rollout: NoVerdictYet and WatchRollout entered again (2 transitions),
    # one rollout invocation, and its three writes (the stored token, the lock's lease, the record's counts).
    looks = [i for i in invocations if i.function.endswith("-rollout")]
    per_look_gb_s = statistics.mean(math.ceil(i.duration * 1000) / 1000 * memory_gb for i in looks)
    real = dict(measured)
    real["lambda_invocations"] += extra_looks
    real["lambda_gb_seconds"] += extra_looks * per_look_gb_s
    real["state_transitions"] += extra_looks * TRANSITIONS_PER_LOOK
    real["dynamodb_writes"] += extra_looks * 3
    handoff_cost = price(real)
    v2_minutes = 1 + math.ceil(a["real_rollout_seconds"] / 60)
    v2_cost = v2_minutes * p["codepipeline_v2_usd_per_action_execution_minute"]
    v1_cost = p["codepipeline_v1_usd_per_active_pipeline_month"] / a["deployments_per_pipeline_month"]
    return {
        "cost_measured": measured,
        "cost_assumed_real_rollout_seconds": a["real_rollout_seconds"],
        "rollout_check_seconds": check_every,
        "transitions_per_deploy": _transitions(aws, plain.execution_arn) + extra_looks * TRANSITIONS_PER_LOOK,
        "transitions_per_deploy_with_approval": real["state_transitions"],
        "cost_per_prod_deployment_usd": handoff_cost,
        "codepipeline_v2_cost_usd": v2_cost,
        "codepipeline_v1_cost_usd": v1_cost,
        "cost_ratio_vs_codepipeline_v2": handoff_cost / v2_cost,
        "cost_ratio_vs_codepipeline_v1": handoff_cost / v1_cost,
    }


# --- 7. ECS's own strategies ---------------------------------------------------------------------------


def _since(aws: Any) -> tuple[Counter[str], int, int, int]:
    """Where the counters stand before a deployment: calls the functions made, invocations, emails, ECS events."""
    return Counter(aws.authorizer.calls), len(aws.runner.invocations), len(aws.outbox.messages()), len(aws.ecs_events)


def _used(
    aws: Any, before: tuple[Counter[str], int, int, int], execution_arn: str | None, page_requests: int
) -> dict[str, Any]:
    """What one deployment used, counted by the embedded AWS (every call a function makes passes its IAM layer)."""
    calls_before, start_index, emails_before, _ = before
    transitions = _transitions(aws, execution_arn)
    aws.wait_idle()
    calls = Counter(aws.authorizer.calls)
    calls.subtract(calls_before)
    invocations = aws.runner.invocations[start_index:]
    return {
        # the approval page's requests run through the HTTP API, not the runner: counted here
        "lambda_invocations": len(invocations) + page_requests,
        "lambda_gb_seconds": sum(math.ceil(i.duration * 1000) / 1000 * 256 / 1024 for i in invocations),
        "state_transitions": transitions,
        "dynamodb_writes": sum(calls[f"dynamodb:{k}"] for k in ("PutItem", "UpdateItem", "DeleteItem")),
        "dynamodb_reads": sum(calls[f"dynamodb:{k}"] for k in ("GetItem", "Query")),
        "sns_publishes": calls["sns:Publish"],
        "emails": len(aws.outbox.messages()) - emails_before,
        "secrets_calls": calls["secretsmanager:GetSecretValue"],
        "rollout_looks": sum(1 for i in invocations if i.function.endswith("-rollout")),
        "look_gb_seconds": [
            math.ceil(i.duration * 1000) / 1000 * 256 / 1024 for i in invocations if i.function.endswith("-rollout")
        ],
        "by_function": dict(Counter(i.function.split("-", 2)[-1] for i in invocations)),
    }


def _watch_segments(configuration: dict[str, Any], pause: bool) -> list[float]:
    """How long (real seconds) each of the workflow's waits for ECS's verdict lasts in an account: green's tasks
    starting (the assumed rollout), then every production step's bake and the final bake in AWS minutes; a PAUSE
    hook before production traffic splits the wait in two (the approvers' wait is not a look's)."""
    from ecs_handoff_embedded.gaps.ecs_deployments import production_steps

    start = float(PRICES["assumptions"]["real_rollout_seconds"])
    if configuration.get("strategy", "ROLLING") == "ROLLING":
        return [start]
    after = 60 * (
        sum(bake for _, bake in production_steps(configuration)) + (configuration.get("bakeTimeInMinutes") or 0)
    )
    return [start, after] if pause else [start + after]


def _looks(segments: list[float], check_every: int) -> int:
    """Waits for ECS's event that time out in a real deployment: each looks at the deployment once more."""
    return sum(max(0, math.ceil(seconds / check_every) - 1) for seconds in segments)


def _codepipeline(segments: list[float], approval_in_action_seconds: float) -> float:
    """CodePipeline V2 for the same deployment: the S3 source action (1 minute) and the ECS deploy action for as
    long as the deployment runs, rounded up to whole minutes; with CodeDeploy's blue/green the wait before rerouting
    production traffic happens inside that action, so it is billed (a manual approval action is not)."""
    action = sum(segments) + approval_in_action_seconds
    return float((1 + math.ceil(action / 60)) * PRICES["codepipeline_v2_usd_per_action_execution_minute"])


def bench_strategies(aws: Any) -> dict[str, Any]:
    """The web services' deployments through ECS's own strategies: prod's BLUE_GREEN with its approval before
    production traffic (N runs, each timed from the approver's click to ECS continuing past its PAUSE hook), dev's
    LINEAR in ten steps at two step bakes, a CANARY, and a ROLLING worker next to them; transitions, invocations and
    cost for each."""
    from ecs_handoff.models import Outcome, ServiceConfig
    from ecs_handoff_embedded.scenario import World, artifact, image

    world = World(aws)
    ecs = aws.client("ecs")
    a = PRICES["assumptions"]
    default_check = int(ServiceConfig.model_fields["rollout_check_seconds"].default)
    max_check = int(
        next(m.le for m in ServiceConfig.model_fields["rollout_check_seconds"].metadata if hasattr(m, "le"))
    )
    aws.rollout_seconds = 0.5
    runs: dict[str, list[dict[str, Any]]] = {}

    def configuration(env: str) -> dict[str, Any]:
        service: dict[str, Any] = ecs.describe_services(cluster=env, services=["web"])["services"][0]
        return dict(service["deploymentConfiguration"])

    # prod web: BLUE_GREEN, green on the test listener while alice decides
    click_to_continue: list[float] = []
    for i in range(N_BLUE_GREEN):
        before = _since(aws)
        deployment_id = world.upload("prod", "web", artifact({"app": image("web", f"prod-s{i:05d}")}))
        world.wait_phase("prod", deployment_id, "awaiting_approval", timeout=120)
        link = world.approval_link("alice@example.com", deployment_id)
        assert world.open(link)[0] == 200  # the approver reads the page first
        clicked = time.time()
        assert world.decide(link, "approve", "bench")[0] == 200
        record = world.wait("prod", deployment_id, timeout=120)
        assert record.outcome is Outcome.SUCCEEDED, record.reason
        # ECS's own record of ContinueServiceDeployment: its PAUSE hook SUCCEEDED (the embedded ECS's runner wakes
        # on the call and says so at once)
        continued = [
            e
            for e in aws.ecs_events[before[3] :]
            if e["detail-type"] == "ECS Hook State Change"
            and e["detail"]["eventName"] == "HOOK_SUCCEEDED"
            and e["detail"]["hookType"] == "PAUSE"
        ]
        assert len(continued) == 1, continued
        click_to_continue.append(_seconds(continued[0]["detail"]["updatedAt"]) - clicked)
        runs.setdefault("BLUE_GREEN", []).append(_used(aws, before, record.execution_arn, page_requests=2))
    blue_green_config = configuration("prod")

    # dev web: LINEAR in ten 10 % steps (its registry entry and service as the e2e tests set them), at two bakes
    saved = configuration("dev")
    by_bake: dict[str, int] = {}
    try:
        for bake in (1, 6):
            ten = {**saved, "linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": bake}}
            ecs.update_service(cluster="dev", service="web", deploymentConfiguration=ten)
            before = _since(aws)
            deployment_id = world.upload("dev", "web", artifact({"app": image("web", f"dev-s{bake:05d}")}))
            record = world.wait("dev", deployment_id, timeout=120)
            assert record.outcome is Outcome.SUCCEEDED, record.reason
            used = _used(aws, before, record.execution_arn, page_requests=0)
            by_bake[f"{bake} min"] = int(used["state_transitions"])
            runs.setdefault("LINEAR", []).append(used)
        linear_config = configuration("dev")
        canary_config = {k: v for k, v in saved.items() if k not in ("linearConfiguration", "strategy")} | {
            "strategy": "CANARY",
            "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 6},
        }
        ecs.update_service(cluster="dev", service="web", deploymentConfiguration=canary_config)
        before = _since(aws)
        record = world.wait("dev", world.upload("dev", "web", artifact({"app": image("web", "dev-s09999")})))
        assert record.outcome is Outcome.SUCCEEDED and "CANARY" in record.reason, record.reason
        runs["CANARY"] = [_used(aws, before, record.execution_arn, page_requests=0)]
    finally:
        ecs.update_service(cluster="dev", service="web", deploymentConfiguration=saved)

    # dev worker: a ROLLING update, the deployment handoff made before ECS had strategies of its own
    before = _since(aws)
    record = world.wait("dev", world.upload("dev", "worker", artifact({"app": image("worker", "dev-s10000")})))
    assert record.outcome is Outcome.SUCCEEDED, record.reason
    runs["ROLLING"] = [_used(aws, before, record.execution_arn, page_requests=0)]

    configurations = {
        "ROLLING": ({"strategy": "ROLLING"}, False),
        "BLUE_GREEN": (blue_green_config, True),
        "LINEAR": (linear_config, False),  # the 6-minute step bake: 9 bakes between the ten steps
        "CANARY": (canary_config, False),
    }
    strategies: dict[str, Any] = {}
    for name, (config, pause) in configurations.items():
        measured_runs = runs[name]
        last = measured_runs[-1]
        segments = _watch_segments(config, pause)
        looks = _looks(segments, default_check)
        per_look_gb_s = statistics.mean(g for r in measured_runs for g in r["look_gb_seconds"])
        real = {k: v for k, v in last.items() if k not in ("by_function", "look_gb_seconds")}
        real["lambda_invocations"] += looks
        real["lambda_gb_seconds"] += looks * per_look_gb_s
        real["state_transitions"] += looks * TRANSITIONS_PER_LOOK
        real["dynamodb_writes"] += looks * 3
        pages = 2 if pause else 0
        cost = _price(real, api_requests=pages, s3_gets=1)
        peer = _codepipeline(segments, a["approval_wait_seconds"] if pause else 0)
        strategies[name] = {
            "runs": len(measured_runs),
            "transitions_measured": [int(r["state_transitions"]) for r in measured_runs],
            "lambda_invocations_measured": [int(r["lambda_invocations"]) for r in measured_runs],
            "invocations_by_function": last["by_function"],
            "rollout_looks_measured": [int(r["rollout_looks"]) for r in measured_runs],
            "real_seconds_watched": sum(segments),
            "real_looks_at_default_check": looks,
            "transitions_real_default_check": int(last["state_transitions"]) + looks * TRANSITIONS_PER_LOOK,
            "transitions_real_max_check": int(last["state_transitions"])
            + _looks(segments, max_check) * TRANSITIONS_PER_LOOK,
            "lambda_invocations_real": int(real["lambda_invocations"]),
            "cost_usd": cost,
            "codepipeline_v2_usd": peer,
            "codepipeline_v1_usd": PRICES["codepipeline_v1_usd_per_active_pipeline_month"]
            / a["deployments_per_pipeline_month"],
            "codedeploy_usd": PRICES["codedeploy_ecs_usd_per_deployment"],
            "cost_ratio_vs_codepipeline_v2": cost / peer,
        }
    return {
        "strategies": strategies,
        "strategy_check_seconds": {"default": default_check, "max": max_check},
        "linear10_transitions_by_step_bake": by_bake,
        "blue_green_runs": N_BLUE_GREEN,
        "click_to_continue_s": click_to_continue,
        "click_to_continue_p50_s": statistics.median(click_to_continue),
        "click_to_continue_max_s": max(click_to_continue),
        "strategy_transitions_max_measured": max(
            max(s["transitions_measured"]) for n, s in strategies.items() if n in ("BLUE_GREEN", "LINEAR")
        ),
    }


def main() -> int:
    from ecs_handoff.observability import logger
    from ecs_handoff_embedded.runtime import EmbeddedAws

    logger.setLevel("ERROR")
    results: dict[str, Any] = {
        "quick": QUICK,
        "python": sys.version.split()[0],
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print("cold starts (fresh interpreters)...", flush=True)
    results.update(bench_cold_start())
    state_dir = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    aws = EmbeddedAws(state_dir=state_dir, rollout_seconds=0.05, log_level="ERROR")
    with contextlib.redirect_stdout(io.StringIO()):
        aws.start()
    try:
        for name, step in (
            ("deploy step vs ecs-deploy", bench_deploy_step),
            ("end to end", bench_e2e),
            ("rollout verdicts", bench_verdicts),
            ("cost", bench_cost),
            ("ECS's own strategies", bench_strategies),
            ("burst", bench_burst),
        ):
            print(f"{name}...", flush=True)
            results.update(step(aws))
    finally:
        aws.stop()
    print("promotion...", flush=True)
    results.update(bench_promotion())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    table(results)
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")
    return 0


def bench_promotion() -> dict[str, Any]:
    """bench/promotion.py's three measures (issue 28): the intake's local check of a signed statement, the import
    it adds to a cold start, and `handoff promote` end to end (on an embedded AWS of its own)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_promotion", Path(__file__).with_name("promotion.py"))
    assert spec is not None and spec.loader is not None
    measures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measures)
    verify_p50_ms, verify_p99_ms, signed_bytes = measures.verification()
    imports, runs = measures.cold_import(), measures.promote_runs()
    return {
        "promotion_verify_p50_ms": verify_p50_ms,
        "promotion_verify_p99_ms": verify_p99_ms,
        "promotion_signed_bytes": signed_bytes,
        "promotion_import_median_ms": statistics.median(imports),
        "promote_p50_s": statistics.median(runs),
        "promote_max_s": max(runs),
    }


def table(r: dict[str, Any]) -> None:
    rows = [
        (
            "ECS calls per deploy (handoff / ecs-deploy)",
            f"{r['ecs_calls_per_deploy']:.1f} / {r['peer_ecs_calls_per_deploy']:.1f}",
            "<= peer",
        ),
        (
            "deploy step median (handoff / ecs-deploy)",
            f"{r['deploy_median_s'] * 1000:.1f} ms / {r['peer_deploy_median_s'] * 1000:.1f} ms",
            "",
        ),
        ("deploy_time_ratio_vs_peer", f"{r['deploy_time_ratio_vs_peer']:.2f}x", "<= 1.0x"),
        ("cold start, bare boto3 ECS client", f"{r['boto3_client_median_s'] * 1000:.0f} ms", ""),
        *[
            (f"cold start {name}", f"{v['median_s'] * 1000:.0f} ms ({v['ratio_vs_boto3_client']:.2f}x)", "")
            for name, v in r["cold_start"].items()
        ],
        ("cold_start_ratio_max", f"{r['cold_start_ratio_max']:.2f}x ({r['cold_start_worst_function']})", "<= 1.3x"),
        ("e2e upload -> SUCCEEDED p50 / p95", f"{r['e2e_p50_s']:.2f} s / {r['e2e_p95_s']:.2f} s", "p50 <= 0.5 s"),
        (
            "upload -> UpdateService p50 / p95",
            f"{r['upload_to_update_service_p50_s']:.2f} s / {r['upload_to_update_service_p95_s']:.2f} s",
            "",
        ),
        (
            "burst",
            f"{r['burst_services']} services x 4 uploads in {r['burst_upload_seconds']:.2f} s, drained in {r['burst_drain_s']:.1f} s, correct={r['burst_correct']}",
            "correct",
        ),
        (
            "verdict after ECS decided, p50 / max (event)",
            f"{r['verdict_latency_p50_s']:.2f} s / {r['verdict_latency_max_s']:.2f} s",
            "p50 <= 1 s",
        ),
        (
            "rollouts decided by ECS's event / by the workflow's look",
            f"{r['verdict_decided_by'].get('event', 0)} / {r['verdict_decided_by'].get('poll', 0)}"
            f" of {r['verdict_runs']}",
            "",
        ),
        (
            "verdict with every event dropped (own look)",
            f"{r['poll_fallback_verdict_s']:.2f} s (looks every {r['poll_fallback_check_seconds']} s)",
            "",
        ),
        ("transitions per deploy (5 min rollout, no approval)", f"{r['transitions_per_deploy']}", "<= 12"),
        ("transitions per deploy with approval", f"{r['transitions_per_deploy_with_approval']}", ""),
        ("cost per prod deployment (5 min rollout)", f"${r['cost_per_prod_deployment_usd']:.5f}", ""),
        (
            "CodePipeline V2 / V1 for the same",
            f"${r['codepipeline_v2_cost_usd']:.4f} / ${r['codepipeline_v1_cost_usd']:.4f}",
            "",
        ),
        ("cost_ratio_vs_codepipeline_v2", f"{r['cost_ratio_vs_codepipeline_v2']:.3f}", "<= 0.05"),
        (
            "approver's click -> ContinueServiceDeployment p50 / max",
            f"{r['click_to_continue_p50_s']:.2f} s / {r['click_to_continue_max_s']:.2f} s"
            f" ({r['blue_green_runs']} blue/green)",
            "p50 <= 1 s",
        ),
        (
            "transitions: blue/green with approval / 10-step linear",
            f"{max(r['strategies']['BLUE_GREEN']['transitions_measured'])}"
            f" / {max(r['strategies']['LINEAR']['transitions_measured'])}",
            "each <= 20",
        ),
        (
            "10-step linear transitions at step bakes",
            ", ".join(f"{bake}: {n}" for bake, n in r["linear10_transitions_by_step_bake"].items()),
            "",
        ),
        *[
            (
                f"{name}: transitions / invocations / cost vs CodePipeline V2",
                f"{s['transitions_real_default_check']} ({s['transitions_measured'][-1]} measured)"
                f" / {s['lambda_invocations_real']} / ${s['cost_usd']:.5f} vs ${s['codepipeline_v2_usd']:.3f}"
                f" ({s['real_seconds_watched'] / 60:.0f} min watched, looks every"
                f" {r['strategy_check_seconds']['default']} s; {s['transitions_real_max_check']} looking every"
                f" {r['strategy_check_seconds']['max']} s)",
                "",
            )
            for name, s in r["strategies"].items()
        ],
        (
            "promotion: verify a ten-image statement p50 / p99 (+ import once per cold start)",
            f"{r['promotion_verify_p50_ms']:.2f} ms / {r['promotion_verify_p99_ms']:.2f} ms"
            f" (+ {r['promotion_import_median_ms']:.0f} ms)",
            "p50 <= 100 ms",
        ),
        (
            "handoff promote, checks and upload, p50 / max",
            f"{r['promote_p50_s']:.2f} s / {r['promote_max_s']:.2f} s",
            "p50 <= 3 s",
        ),
    ]
    width = max(len(a) for a, _, _ in rows)
    print()
    for label, value, target in rows:
        print(f"{label:<{width}}  {value}" + (f"   [target {target}]" if target else ""))


if __name__ == "__main__":
    sys.exit(main())
