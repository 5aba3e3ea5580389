"""`make demo`: the whole story on the embedded AWS, each step checked; exits non-zero on any surprise."""

from __future__ import annotations

import contextlib
import io
import os
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
from ecs_handoff_embedded.scenario import World, artifact, image, listeners
from ecs_handoff_embedded.seed import SAMPLE_IMAGES, bucket_name


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


Check = Callable[[DeploymentRecord], str | None]


class Story:
    """The demo's deployments, one after another on one embedded AWS, each printed as it goes and checked."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.steps: list[Step] = []

    def deploy(
        self,
        step: Step,
        body: bytes,
        check: Check | None = None,
        approve: Callable[[str], None] | None = None,
        held_in: str = "awaiting_approval",
    ) -> None:
        """Uploads body, follows the deployment to its end (approve runs once it is held in held_in), prints
        its phases and what the service runs before and after, and checks the outcome."""
        print(f"\n== {len(self.steps) + 1}. {step.title}")
        self._print_running("running", step)
        started = time.time()
        deployment_id = self.world.upload(step.env, step.service, body)
        print(f"    uploaded s3://{bucket_name(step.env)}/{step.service}/imagedefinitions.json.zip -> {deployment_id}")
        step.record = self._follow(step, deployment_id, _phase_printer(started), approve, held_in)
        step.seconds = time.time() - started
        print(f"    outcome {step.record.outcome.value} in {step.seconds:.2f}s: {step.record.reason}")
        self._print_running("now running", step)
        step.check_error = check(step.record) if check else None
        if step.check_error:
            print(f"    CHECK FAILED: {step.check_error}")
        self.steps.append(step)

    def _follow(
        self,
        step: Step,
        deployment_id: str,
        printer: Callable[[DeploymentRecord, str, str], None],
        approve: Callable[[str], None] | None,
        held_in: str,
    ) -> DeploymentRecord:
        if approve is None:
            return self.world.wait(step.env, deployment_id, on_phase=printer)
        waiting = self.world.wait_phase(step.env, deployment_id, held_in)
        for phase, at in sorted(waiting.timeline.items(), key=lambda item: item[1]):
            printer(waiting, phase, at)
        approve(deployment_id)
        record = self.world.wait(step.env, deployment_id)
        for phase, at in sorted(record.timeline.items(), key=lambda item: item[1]):
            if phase not in waiting.timeline:
                printer(record, phase, at)
        return record

    def _print_running(self, label: str, step: Step) -> None:
        running = self.world.running(step.env, step.service)
        images = ", ".join(f"{k}={v.rsplit('/', 1)[-1]}" for k, v in running["images"].items())
        print(f"    {label} {short_name(running['task_definition'])}: {images}")

    def running_images_are(self, env: str, service: str, wanted: dict[str, str]) -> Check:
        def check(record: DeploymentRecord) -> str | None:
            images = self.world.running(env, service)["images"]
            pinned = {k: self.world.pinned(v) for k, v in wanted.items()}  # handoff deploys the digest the tag had
            wrong = {k: images.get(k) for k, v in pinned.items() if images.get(k) != v}
            return f"service runs {wrong}, expected {pinned}" if wrong else None

        return check

    def still_on(self, env: str, service: str, task_definition: str) -> Check:
        def check(record: DeploymentRecord) -> str | None:
            now = self.world.running(env, service)["task_definition"]
            return None if now == task_definition else f"service is on {now}, not {task_definition}"

        return check


def dev_release(story: Story) -> str:
    """Step 1: a release to dev, no approval; returns the revision it runs."""
    story.deploy(
        Step("dev: CI uploads new api images; no approval needed", "dev", "api", Outcome.SUCCEEDED),
        artifact(SAMPLE_IMAGES),
        story.running_images_are("dev", "api", SAMPLE_IMAGES),
    )
    return str(story.world.running("dev", "api")["task_definition"])


def prod_release_approved_by_email(story: Story) -> None:
    """Step 2: the same release to prod, which needs approval; alice approves from her emailed link."""
    world = story.world

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

    prod_images = {"app-container": image("api", "prod-4f2a9c1")}
    story.deploy(
        Step(
            "prod: the same release; prod requires approval: alice approves from her emailed link",
            "prod",
            "api",
            Outcome.SUCCEEDED,
        ),
        artifact(prod_images),
        story.running_images_are("prod", "api", prod_images),
        approve=approve_as_alice,
    )


def refusals_and_rerun(story: Story, good: str) -> None:
    """Steps 3-5: an artifact refused, an image that crashes (rolled back), a re-run of the good one."""
    story.deploy(
        Step("dev: an artifact naming a container the task definition does not have", "dev", "api", Outcome.INVALID),
        artifact({"nginx": image("api-nginx", "dev-5b3e0d2")}),
        lambda r: None if story.world.running("dev", "api")["task_definition"] == good else "service changed",
    )
    story.deploy(
        Step(
            "dev: an image that crashes on start (tag fail-*); the circuit breaker rolls back",
            "dev",
            "api",
            Outcome.FAILED,
        ),
        artifact({"app-container": image("api", "fail-6c4f1e3")}),
        story.still_on("dev", "api", good),
    )
    story.deploy(
        Step("dev: re-run, by uploading the same metadata again", "dev", "api", Outcome.SUCCEEDED),
        artifact(SAMPLE_IMAGES),
        story.running_images_are("dev", "api", SAMPLE_IMAGES),
    )


def held_by_an_alarm(story: Story) -> None:
    """Step 6, a release control: the worker may not deploy while its 5xx alarm fires."""
    world = story.world
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

    story.deploy(
        Step("dev: the worker's 5xx alarm fires; the deploy waits until it clears", "dev", "worker", Outcome.SUCCEEDED),
        artifact(worker_images),
        story.running_images_are("dev", "worker", worker_images),
        approve=clear_the_alarm,
        held_in="waiting_for_alarm",
    )


def blue_green_approved_on_test_traffic(story: Story) -> None:
    """Step 7: prod's web is a BLUE_GREEN service: ECS puts green on the test listener and holds it at a PAUSE
    hook; alice looks at green, approves, and ECS moves production traffic."""
    world = story.world
    rules = listeners(world.aws, "prod")

    def weights() -> str:
        (pb, pg), (tb, tg) = rules.weights("production"), rules.weights("test")
        return f"production blue {pb} % / green {pg} %, test blue {tb} % / green {tg} %"

    def approve_on_green(deployment_id: str) -> None:
        print(f"    ECS holds green at its PAUSE hook: {weights()}")
        email = world.approval_email("alice@example.com", deployment_id)
        green = next((line for line in email.splitlines() if line.startswith("Green is up")), "")
        print(f"    alice's email says: {green}")
        time.sleep(1)
        print(f"    1 s later, nobody has decided: {weights()}")
        status, _ = world.decide(
            world.approval_link("alice@example.com", deployment_id), "approve", "green OK on :8080"
        )
        print(f"    alice presses Approve: HTTP {status}; handoff continues the deployment (ContinueServiceDeployment)")

    web_images = {"app": image("web", "prod-4f2a9c1")}

    def moved(record: DeploymentRecord) -> str | None:
        print(f"    after ECS's verdict: {weights()}")
        wrong = story.running_images_are("prod", "web", web_images)(record)
        return wrong or (None if rules.weights("production") == (0, 100) else "production traffic did not move")

    story.deploy(
        Step(
            "prod: web is BLUE_GREEN: green on the test listener, alice approves, production traffic moves",
            "prod",
            "web",
            Outcome.SUCCEEDED,
        ),
        artifact(web_images),
        moved,
        approve=approve_on_green,
    )


def run(world: World) -> list[Step]:
    story = Story(world)
    good = dev_release(story)
    prod_release_approved_by_email(story)
    refusals_and_rerun(story, good)
    held_by_an_alarm(story)
    blue_green_approved_on_test_traffic(story)
    return story.steps


def summary(steps: list[Step]) -> None:
    print("\n== summary")
    print(f"    {'#':<2} {'env':<5} {'service':<8} {'expected':<10} {'outcome':<10} {'time':>6}  result")
    for i, step in enumerate(steps, 1):
        outcome = step.record.outcome.value if step.record else "-"
        print(
            f"    {i:<2} {step.env:<5} {step.service:<8} {step.expected.value:<10} {outcome:<10} "
            f"{step.seconds:5.2f}s  {'ok' if step.ok else 'UNEXPECTED'}"
        )


def delivery_stats(aws: EmbeddedAws) -> bool:
    """The last chapter: `handoff stats` of the deployments above, in each environment, run as an operator runs it
    against `handoff local up`: the CLI in its own process, finding this embedded AWS through its local.json (the
    embedded AWS does not import the CLI; the CLI is one of its clients)."""
    import subprocess  # nosec B404 - the CLI of this same install, fixed arguments, no shell

    local = aws.write_local_json()
    environment = {**os.environ, "HANDOFF_LOCAL": str(local), "COLUMNS": "80"}
    ok = True
    for env in ("dev", "prod"):
        print(f"\n== handoff --local stats --env {env}\n", flush=True)
        command = [sys.executable, "-m", "ecs_handoff_cli", "--local", "stats", "--env", env]
        done = subprocess.run(command, env=environment, check=False, timeout=120)  # noqa: S603  # nosec B603
        ok = done.returncode == 0 and ok
    return ok


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
        measured = delivery_stats(aws)
        return 0 if all(step.ok for step in steps) and measured else 1
    finally:
        aws.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
