"""Driving the embedded world as CI and an operator would: upload artifacts, follow deployments."""

from __future__ import annotations

import io
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.models import DeploymentRecord, Phase, execution_name

from ecs_handoff_embedded.seed import ECR, artifact_images, bucket_name, pinned_image, push_image, put_5xx_alarm

if TYPE_CHECKING:  # the builders here serve tests that run no embedded AWS (the unit tests, mutation runs)
    from ecs_handoff_embedded.runtime import EmbeddedAws


def artifact(images: dict[str, str] | list[dict[str, Any]] | bytes) -> bytes:
    """imagedefinitions.json.zip as CI builds it, from {container: image} (or raw JSON entries/bytes)."""
    if isinstance(images, bytes):
        payload = images
    else:
        entries = [{"name": k, "imageUri": v} for k, v in images.items()] if isinstance(images, dict) else images
        payload = json.dumps(entries).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imagedefinitions.json", payload)
    return buffer.getvalue()


def image(repo: str, tag: str) -> str:
    return f"{ECR}/{repo}:{tag}"


def set_alarm(cloudwatch: Any, name: str, state: str = "OK", reason: str = "set by hand") -> None:
    """A CloudWatch alarm on the load balancer's 5xx count (created if missing), put in `state`."""
    if not cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]:
        put_5xx_alarm(cloudwatch, name)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def edit_registry_entry(ssm: Any, env: str, service_id: str, /, **changes: Any) -> str:
    """Changes a registry entry as Terraform would (an apply that sets more keys); returns the entry as it was."""
    name = f"/handoff/{env}/services/{service_id}"
    current = str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    ssm.put_parameter(Name=name, Type="String", Overwrite=True, Value=json.dumps({**json.loads(current), **changes}))
    return current


@dataclass(frozen=True)
class Listeners:
    """web's production and test listener rules, and which target group is blue (serving production now)."""

    elbv2: Any
    production_rule: str
    test_rule: str
    blue: str
    green: str

    def weights(self, traffic: str) -> tuple[int, int]:
        """(blue, green) percentages on the production or test listener rule."""
        rule = self.production_rule if traffic == "production" else self.test_rule
        found = self.elbv2.describe_rules(RuleArns=[rule])["Rules"][0]
        forward = next(a for a in found["Actions"] if a["Type"] == "forward")
        groups = {g["TargetGroupArn"]: int(g["Weight"]) for g in forward["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.blue, 0), groups.get(self.green, 0)


def listeners(aws: EmbeddedAws, env: str, service: str = "web") -> Listeners:
    """Read from ECS and ELBv2 as they are now: blue is whichever target group production traffic goes to."""
    described = aws.client("ecs").describe_services(cluster=env, services=[service])["services"][0]
    balancer = next(lb for lb in described["loadBalancers"] if lb.get("advancedConfiguration"))
    advanced = balancer["advancedConfiguration"]
    elbv2 = aws.client("elbv2")
    first, second = balancer["targetGroupArn"], advanced["alternateTargetGroupArn"]
    rule = elbv2.describe_rules(RuleArns=[advanced["productionListenerRule"]])["Rules"][0]
    forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
    production = {g["TargetGroupArn"]: int(g["Weight"]) for g in forward["ForwardConfig"]["TargetGroups"]}
    blue, green = (second, first) if production.get(second, 0) > production.get(first, 0) else (first, second)
    return Listeners(elbv2, advanced["productionListenerRule"], advanced["testListenerRule"], blue, green)


class World:
    """A thin operator's view of one embedded AWS."""

    def __init__(self, aws: EmbeddedAws) -> None:
        self.aws = aws
        self.s3 = aws.client("s3")
        self.ecs = aws.client("ecs")
        self.ecr_client = aws.client("ecr")

    def records(self, env: str) -> DeploymentRecords:
        return DeploymentRecords(self.aws.stacks[env].outputs["DeploymentsTableName"], self.aws.client("dynamodb"))

    def alarm(self, name: str, state: str = "OK", reason: str = "set by hand") -> None:
        """`set_alarm` in this world's CloudWatch."""
        set_alarm(self.aws.client("cloudwatch"), name, state, reason)

    def edit_registry(self, env: str, service_id: str, **changes: Any) -> None:
        """`edit_registry_entry` in this world's SSM."""
        edit_registry_entry(self.aws.client("ssm"), env, service_id, **changes)

    def push(self, body: bytes) -> None:
        """Pushes the artifact's images to ECR first, as CI does before it uploads (bodies that are not a
        readable artifact are uploaded as they are: the intake refuses them)."""
        for uri in artifact_images(body):
            push_image(self.ecr_client, uri)

    def pinned(self, image_uri: str) -> str:
        """What handoff deploys for an uploaded ECR image: the repository at the digest its tag has."""
        return pinned_image(self.ecr_client, image_uri)

    def upload(self, env: str, service_id: str, body: bytes, key: str | None = None) -> str:
        """Pushes the images and uploads like CI; returns the deployment id the intake derives from the new version."""
        self.push(body)
        response = self.s3.put_object(
            Bucket=bucket_name(env), Key=key or f"{service_id}/imagedefinitions.json.zip", Body=body
        )
        return execution_name(service_id, response["VersionId"])

    def wait(
        self,
        env: str,
        deployment_id: str,
        timeout: float = 60.0,
        on_phase: Callable[[DeploymentRecord, str, str], None] | None = None,
    ) -> DeploymentRecord:
        """Follows a deployment until its outcome is terminal; calls on_phase for each new phase."""
        deadline = time.monotonic() + timeout
        seen: set[str] = set()
        records = self.records(env)
        while True:
            record = records.get(deployment_id)
            if record is not None:
                for phase, at in sorted(record.timeline.items(), key=lambda item: item[1]):
                    if phase not in seen:
                        seen.add(phase)
                        if on_phase:
                            on_phase(record, phase, at)
                if record.outcome.terminal and record.phase is Phase.FINISHED:
                    return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"deployment {deployment_id} did not finish within {timeout} s: {record}")
            time.sleep(0.05)

    def running(self, env: str, service: str) -> dict[str, Any]:
        """The service's current revision and its container images."""
        svc = self.ecs.describe_services(cluster=env, services=[service])["services"][0]
        td = self.ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        return {
            "task_definition": svc["taskDefinition"],
            "images": {c["name"]: c["image"] for c in td["containerDefinitions"]},
            "task_definition_json": td,
        }

    # -- approvers ----------------------------------------------------------------------------------

    def wait_phase(self, env: str, deployment_id: str, phase: str, timeout: float = 60.0) -> DeploymentRecord:
        deadline = time.monotonic() + timeout
        while True:
            record = self.records(env).get(deployment_id)
            if record is not None and (phase in record.timeline or record.phase is Phase.FINISHED):
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"deployment {deployment_id} never reached {phase}: {record}")
            time.sleep(0.05)

    def outcome_emails(self, env: str, deployment_id: str, timeout: float = 30.0) -> list[str]:
        """The outcome notifications the platform inbox got for a deployment, once there is at least one
        (the notification is sent just after the outcome is recorded)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [
                text
                for path in self.aws.outbox.messages()
                if (text := path.read_text(encoding="utf-8")).startswith(f"To: platform-{env}@example.com\n")
                and f"Deployment {deployment_id}\n" in text
            ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def approval_email(self, approver: str, deployment_id: str) -> str:
        """The text of the approval email this approver got for this deployment."""
        for path in reversed(self.aws.outbox.messages()):
            text = path.read_text(encoding="utf-8")
            if text.startswith(f"To: {approver}\n") and deployment_id in text:
                return text
        raise LookupError(f"no approval email to {approver} about {deployment_id}")

    def approval_link(self, approver: str, deployment_id: str) -> str:
        match = re.search(r"^(http://\S+/approvals/\S+)$", self.approval_email(approver, deployment_id), re.MULTILINE)
        if not match:
            raise LookupError("the approval email has no link")
        return match.group(1)

    @staticmethod
    def open(url: str) -> tuple[int, str]:
        """GET, as a browser (or a mail scanner) would."""
        return _http(urllib.request.Request(url))  # noqa: S310

    @staticmethod
    def decide(url: str, decision: str, comment: str = "", **overrides: str) -> tuple[int, str]:
        """POST the review page's form, as pressing Approve or Reject does."""
        parts = urllib.parse.urlsplit(url)
        form = dict(urllib.parse.parse_qsl(parts.query))
        form.update({"decision": decision, "comment": comment, **overrides})
        action = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        data = urllib.parse.urlencode(form).encode()
        return _http(urllib.request.Request(action, data=data, method="POST"))  # noqa: S310


def _http(request: urllib.request.Request) -> tuple[int, str]:
    try:
        # S310: only the embedded AWS's own http://127.0.0.1 URLs come here.
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
