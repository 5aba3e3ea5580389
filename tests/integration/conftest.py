"""Handlers against moto (decorator mode), with every resource built from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from ecs_handoff.aws.clients import reset_clients
from ecs_handoff_embedded import gaps, provision, world
from ecs_handoff_embedded.runner import FunctionRunner
from moto import mock_aws

from tests.helpers import ROOT


@dataclass
class Stack:
    session: Any
    outputs: dict[str, str]
    runner: FunctionRunner
    approval_messages: list[str] = field(default_factory=list)  # set by test_request_approval's fixture

    def client(self, name: str) -> Any:
        return self.session.client(name)

    def pinned(self, image_uri: str) -> str:
        """What handoff deploys for an uploaded ECR image: the repository at its tag's digest."""
        return world.pinned_image(self.client("ecr"), image_uri)

    def push(self, body: bytes) -> None:
        """Pushes an artifact's images to ECR, as CI does before it uploads (unreadable bodies are skipped)."""
        for uri in world.artifact_images(body):
            world.push_image(self.client("ecr"), uri)

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Runs handoff-dev-<function>'s real handler with exactly its environment from the stack."""
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends[world.ACCOUNT_ID][world.REGION].get_function(f"handoff-dev-{function}")
        payload, errored, _ = self.runner.invoke(fn, json.loads(json.dumps(event)))
        result: dict[str, Any] = json.loads(payload)
        if errored:
            raise HandlerError(result["errorType"], result["errorMessage"])
        return result

    def finalize(self, state: dict[str, Any]) -> dict[str, Any]:
        """The finalize function as the workflow's Finalize step invokes it: the execution's history shows it
        handed exactly this state (the executions here do not run the state machine, so it is said here)."""
        from ecs_handoff.aws import sfn

        handed = (
            "arn:aws:lambda:ap-northeast-1:123456789012:function:handoff-dev-finalize",
            json.dumps(state, sort_keys=True),
        )
        original = sfn.last_scheduled_input
        sfn.last_scheduled_input = lambda execution, client=None: handed  # type: ignore[assignment]
        try:
            return self.invoke("finalize", state)
        finally:
            sfn.last_scheduled_input = original

    def environment(self, function: str) -> dict[str, str]:
        """handoff-dev-<function>'s environment variables, as the stack set them."""
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends[world.ACCOUNT_ID][world.REGION].get_function(f"handoff-dev-{function}")
        return self.runner.environment_for(fn)

    def notifications(self) -> list[str]:
        """Messages published to the stack's topic, read from an SQS subscription made for the test."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName="test-notifications")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [str(m["Body"]) for m in messages]


class HandlerError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "HANDOFF_ENV"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", world.REGION)
    with mock_aws():
        reset_clients()
        session = boto3.session.Session(region_name=world.REGION)
        world.seed(session, "dev", rollout_timeout_seconds=60, poll_interval_seconds=1)
        deployed = provision.provision(session, ROOT, "handoff-dev", {"Env": "dev"}, world.ACCOUNT_ID, world.REGION)
        runner = FunctionRunner(dict(__import__("os").environ), log_level="ERROR")
        for name, code_dir in deployed.functions.items():
            runner.register(name, code_dir)
        sqs, sns = session.client("sqs"), session.client("sns")
        queue = sqs.create_queue(QueueName="test-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=deployed.outputs["NotificationsTopicArn"],
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        # ECS's deployments, finished by hand in tests; their events are delivered by hand too
        undo = gaps.install_ecs_rollouts(lambda: 3600.0, lambda event: None)
        try:
            yield Stack(session, deployed.outputs, runner)
        finally:
            undo()
            reset_clients()
