"""`make demo`: the whole story on the embedded AWS, each step checked; exits non-zero on any surprise."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ecs_handoff.models import DeploymentRecord, Outcome
from ecs_handoff.taskdef import short_name

from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.world import SAMPLE_IMAGES, bucket_name


@dataclass
class Step:
    title: str
    env: str
    service: str
    expected: Outcome
    record: DeploymentRecord | None = None
    check_error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.record is not None and self.record.outcome is self.expected and self.check_error is None


def _phase_printer(started: float) -> Callable[[DeploymentRecord, str, str], None]:
    def on_phase(record: DeploymentRecord, phase: str, at: str) -> None:
        when = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() - started
        print(f"    {max(when, 0):6.2f}s  {phase}")

    return on_phase


def run(world: World) -> list[Step]:
    steps: list[Step] = []
    new_images = dict(SAMPLE_IMAGES)

    def deploy(
        step: Step,
        body: bytes,
        check: Callable[[DeploymentRecord], str | None] | None = None,
        approve: Callable[[str], None] | None = None,
        held_in: str = "awaiting_approval",
    ) -> None:
        print(f"\n== {len(steps) + 1}. {step.title}")
        before = world.running(step.env, step.service)
        print(
            f"    running {short_name(before['task_definition'])}: "
            + ", ".join(f"{k}={v.rsplit('/', 1)[-1]}" for k, v in before["images"].items())
        )
        started = time.time()
        deployment_id = world.upload(step.env, step.service, body)
        key = f"s3://{bucket_name(step.env)}/{step.service}/imagedefinitions.json.zip"
        print(f"    uploaded {key} -> {deployment_id}")
        printer = _phase_printer(started)
        if approve is not None:
            waiting = world.wait_phase(step.env, deployment_id, held_in)
            for phase, at in sorted(waiting.timeline.items(), key=lambda item: item[1]):
                printer(waiting, phase, at)
            approve(deployment_id)
        step.record = world.wait(step.env, deployment_id, on_phase=printer if approve is None else None)
        if approve is not None:
            for phase, at in sorted(step.record.timeline.items(), key=lambda item: item[1]):
                if phase not in waiting.timeline:
                    printer(step.record, phase, at)
        step.seconds = time.time() - started
        after = world.running(step.env, step.service)
        print(f"    outcome {step.record.outcome.value} in {step.seconds:.2f}s: {step.record.reason}")
        print(
            f"    now running {short_name(after['task_definition'])}: "
            + ", ".join(f"{k}={v.rsplit('/', 1)[-1]}" for k, v in after["images"].items())
        )
        step.check_error = check(step.record) if check else None
        if step.check_error:
            print(f"    CHECK FAILED: {step.check_error}")
        steps.append(step)

    def running_images_are(env: str, service: str, wanted: dict[str, str]) -> Callable[[DeploymentRecord], str | None]:
        def check(record: DeploymentRecord) -> str | None:
            images = world.running(env, service)["images"]
            pinned = {k: world.pinned(v) for k, v in wanted.items()}  # handoff deploys the digest the tag had
            wrong = {k: images.get(k) for k, v in pinned.items() if images.get(k) != v}
            return f"service runs {wrong}, expected {pinned}" if wrong else None

        return check

    deploy(
        Step("dev: CI uploads new api images; no approval needed", "dev", "api", Outcome.SUCCEEDED),
        artifact(new_images),
        running_images_are("dev", "api", new_images),
    )
    good = world.running("dev", "api")

    def approve_as_alice(deployment_id: str) -> None:
        email = world.approval_email("alice@example.com", deployment_id)
        print("    the approval email alice@example.com got:")
        print("      | " + email.rstrip().replace("\n", "\n      | "))
        link = world.approval_link("alice@example.com", deployment_id)
        status, page = world.open(link)
        shows = "the image change" if "prod-4f2a9c1" in page else "NO image change"
        print(f"    alice opens the link: HTTP {status}, the page shows {shows}; opening it changed nothing")
        status, page = world.decide(link, "approve", "release 4f2a9c1, change ticket CHG-1234")
        print(f"    alice presses Approve: HTTP {status}")
        status, _ = world.decide(link, "approve", "again")
        print(f"    the same link posted again: HTTP {status} (single use)")

    deploy(
        Step(
            "prod: the same release; prod requires approval: alice approves from her emailed link",
            "prod",
            "api",
            Outcome.SUCCEEDED,
        ),
        artifact({"app-container": image("api", "prod-4f2a9c1")}),
        running_images_are("prod", "api", {"app-container": image("api", "prod-4f2a9c1")}),
        approve=approve_as_alice,
    )
    deploy(
        Step("dev: an artifact naming a container the task definition does not have", "dev", "api", Outcome.INVALID),
        artifact({"nginx": image("api-nginx", "dev-5b3e0d2")}),
        lambda r: (
            None if world.running("dev", "api")["task_definition"] == good["task_definition"] else "service changed"
        ),
    )
    deploy(
        Step(
            "dev: an image that crashes on start (tag fail-*); the circuit breaker rolls back",
            "dev",
            "api",
            Outcome.FAILED,
        ),
        artifact({"app-container": image("api", "fail-6c4f1e3")}),
        lambda r: (
            None
            if world.running("dev", "api")["task_definition"] == good["task_definition"]
            else f"service is on {world.running('dev', 'api')['task_definition']}, not {good['task_definition']}"
        ),
    )
    deploy(
        Step("dev: re-run, by uploading the same metadata again", "dev", "api", Outcome.SUCCEEDED),
        artifact(new_images),
        running_images_are("dev", "api", new_images),
    )

    # A release control: the worker may not deploy while its 5xx alarm fires.
    world.alarm("dev-worker-5xx", "ALARM", "Threshold Crossed: 42 5xx in 1 minute")
    world.edit_registry(
        "dev", "worker", blocking_alarms=["dev-worker-5xx"], gate_poll_seconds=1, max_gate_wait_seconds=300
    )
    worker_images = {"app": image("worker", "dev-4f2a9c1")}

    def clear_the_alarm(deployment_id: str) -> None:
        record = world.records("dev").get(deployment_id)
        print(f"    held: {record.phase if record else '?'}: {record.gate.get('reason') if record else ''}")
        time.sleep(2)
        before = world.running("dev", "worker")["task_definition"]
        print(f"    2 s later the worker still runs {short_name(before)}; the alarm clears")
        world.alarm("dev-worker-5xx", "OK", "Threshold no longer crossed")

    deploy(
        Step("dev: the worker's 5xx alarm fires; the deploy waits until it clears", "dev", "worker", Outcome.SUCCEEDED),
        artifact(worker_images),
        running_images_are("dev", "worker", worker_images),
        approve=clear_the_alarm,
        held_in="waiting_for_alarm",
    )
    return steps


def summary(steps: list[Step]) -> None:
    print("\n== summary")
    print(f"    {'#':<2} {'env':<5} {'service':<8} {'expected':<10} {'outcome':<10} {'time':>6}  result")
    for i, step in enumerate(steps, 1):
        outcome = step.record.outcome.value if step.record else "-"
        print(
            f"    {i:<2} {step.env:<5} {step.service:<8} {step.expected.value:<10} {outcome:<10} "
            f"{step.seconds:5.2f}s  {'ok' if step.ok else 'UNEXPECTED'}"
        )


def main() -> int:
    state_dir = Path(tempfile.mkdtemp(prefix="handoff-demo-"))
    print("handoff demo: the real template.yaml, state machine and handlers on an embedded AWS")
    started = time.monotonic()
    aws = EmbeddedAws(state_dir=state_dir, rollout_seconds=1.0)
    with contextlib.redirect_stdout(io.StringIO()):
        aws.start()
    print(f"embedded AWS up on {aws.endpoint} in {time.monotonic() - started:.1f}s: stacks handoff-dev, handoff-prod")
    try:
        steps = run(World(aws))
        summary(steps)
        emails = aws.outbox.messages()
        print(f"\n== {len(emails)} emails in the outbox ({aws.outbox.directory}); the last one:\n")
        if emails:
            print("    " + emails[-1].read_text(encoding="utf-8").replace("\n", "\n    "))
        print(f"scenario took {time.monotonic() - started:.1f}s in all")
        return 0 if all(step.ok for step in steps) else 1
    finally:
        aws.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
