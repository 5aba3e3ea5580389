"""Handlers against moto (decorator mode), with every resource built from template.yaml."""

from __future__ import annotations

import copy
import copyreg
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from ecs_handoff.aws.clients import reset_clients
from ecs_handoff.logic import rollout
from ecs_handoff_embedded import gaps, provision, seed
from ecs_handoff_embedded.runner import FunctionRunner
from moto import mock_aws

from tests.helpers import ROOT
from tests.integration.approvals import APPROVERS, require_approval, topic_of


@dataclass
class Stack:
    session: Any
    outputs: dict[str, str]
    runner: FunctionRunner
    approval_messages: list[str] = field(default_factory=list)  # set by the approval_messages fixture

    def client(self, name: str) -> Any:
        return self.session.client(name)

    def pinned(self, image_uri: str) -> str:
        """What handoff deploys for an uploaded ECR image: the repository at its tag's digest."""
        return seed.pinned_image(self.client("ecr"), image_uri)

    def push(self, body: bytes) -> None:
        """Pushes an artifact's images to ECR, as CI does before it uploads (unreadable bodies are skipped)."""
        for uri in seed.artifact_images(body):
            seed.push_image(self.client("ecr"), uri)

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        """Runs handoff-dev-<function>'s real handler with exactly its environment from the stack."""
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends[seed.ACCOUNT_ID][seed.REGION].get_function(f"handoff-dev-{function}")
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

        fn = lambda_backends[seed.ACCOUNT_ID][seed.REGION].get_function(f"handoff-dev-{function}")
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


@dataclass
class Provisioned:
    """The dev stack as provisioned once for the package, and moto's state right after (see `restore`)."""

    session: Any
    functions: dict[str, Any]
    outputs: dict[str, str]
    snapshot: list[tuple[Any, str, str, dict[str, Any]]]


# moto's backends hold locks; a copy of one gets a new lock (no thread holds it between tests).
copyreg.pickle(type(threading.RLock()), lambda _lock: (threading.RLock, ()))
copyreg.pickle(type(threading.Lock()), lambda _lock: (threading.Lock, ()))
copyreg.pickle(threading.Condition, lambda _condition: (threading.Condition, ()))
copyreg.pickle(threading.Event, lambda _event: (threading.Event, ()))


def _ssm_parameters(parameters: Any) -> tuple[Any, ...]:
    """moto's ParameterDict is a defaultdict whose constructor wants its account and region (and keeps flags)."""
    return (
        type(parameters),
        (parameters.account_id, parameters.region_name),
        vars(parameters),
        None,
        iter(parameters.items()),
    )


def _register_copiers() -> None:
    from moto.ssm.models import ParameterDict

    copyreg.pickle(ParameterDict, _ssm_parameters)


def _region_backends() -> Iterator[tuple[Any, str, str, Any]]:
    from moto.core.base_backend import BackendDict

    for backends in list(BackendDict._instances):
        for account, regions in list(backends.items()):
            for region, backend in list(regions.items()):
                yield backends, account, region, backend


def _live() -> dict[int, Any]:
    """A deepcopy memo naming every live backend as itself: objects that point at their backend (a topic at its
    SNS backend) keep pointing at the live one, not at a copy of it."""
    return {id(backend): backend for _, _, _, backend in _region_backends()}


def snapshot() -> list[tuple[Any, str, str, dict[str, Any]]]:
    """Every moto backend's state, copied (a few milliseconds: the stack is small)."""
    _register_copiers()
    live = _live()
    return [(b, a, r, copy.deepcopy(backend.__dict__, dict(live))) for b, a, r, backend in _region_backends()]


def restore(saved: list[tuple[Any, str, str, dict[str, Any]]]) -> None:
    """Puts moto back as `snapshot` found it: backends made since are reset, the others get a copy of their state.
    A test sees the stack exactly as provisioned, whatever the tests before it did."""
    kept = {(id(b), a, r) for b, a, r, _ in saved}
    for backends, account, region, backend in _region_backends():
        if (id(backends), account, region) not in kept:
            backend.reset()
    restored = [(backends[account][region], state) for backends, account, region, state in saved]
    memo = _live()
    for backend, state in restored:
        backend.__dict__.clear()
        backend.__dict__.update(copy.deepcopy(state, memo))


def wipe() -> None:
    """An empty AWS, for a test that builds its own world inside the package's mock."""
    for _, _, _, backend in _region_backends():
        backend.reset()


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": seed.REGION}


@pytest.fixture(scope="package")
def provisioned() -> Iterator[Provisioned]:
    """The template provisioned once for the whole package (about 1.2 s each time it is done); every test that
    uses `stack` starts from a copy of moto's state as it was right after."""
    saved_env = {key: os.environ.get(key) for key in (*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_PROFILE", "HANDOFF_ENV")}
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "HANDOFF_ENV"):
        os.environ.pop(key, None)
    os.environ.update(CREDENTIALS)
    mock = mock_aws()
    mock.start()
    undo_key_specs = gaps.install_template_key_specs()  # the stack's promotion key is an ECC signing key
    try:
        reset_clients()
        session = boto3.session.Session(region_name=seed.REGION)
        seed.seed(session, "dev", rollout_timeout_seconds=60, poll_interval_seconds=1)
        deployed = provision.provision(session, ROOT, "handoff-dev", {"Env": "dev"}, seed.ACCOUNT_ID, seed.REGION)
        sqs, sns = session.client("sqs"), session.client("sns")
        queue = sqs.create_queue(QueueName="test-notifications")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=deployed.outputs["NotificationsTopicArn"],
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        yield Provisioned(session, dict(deployed.functions), dict(deployed.outputs), snapshot())
    finally:
        undo_key_specs()
        mock.stop()
        reset_clients()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def stack(provisioned: Provisioned, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "HANDOFF_ENV"):
        monkeypatch.delenv(key, raising=False)
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    restore(provisioned.snapshot)
    reset_clients()
    # A new runner each test: every function starts cold, with nothing cached from the test before.
    runner = FunctionRunner(dict(os.environ), log_level="ERROR")
    for name, code_dir in provisioned.functions.items():
        runner.register(name, code_dir)
    # ECS's deployments, finished by hand in tests; their events are delivered by hand too. So ECS never changes
    # by itself here, and the rollout event's second and third look at it need not wait (1 s and 2 s in AWS).
    monkeypatch.setattr(rollout, "AGREEMENT_RETRY_SECONDS", (0.0, 0.0))
    undo = gaps.install_ecs_rollouts(lambda: 3600.0, lambda event: None)
    try:
        yield Stack(provisioned.session, dict(provisioned.outputs), runner)
    finally:
        undo()
        reset_clients()


@pytest.fixture(autouse=True)
def _own_world(request: pytest.FixtureRequest) -> None:
    """A test that builds its own AWS (its own `mock_aws()`, nested in the package's while that is active) starts
    from an empty one, as it would alone."""
    if "stack" not in request.fixturenames and "provisioned" not in request.fixturenames:
        wipe()


@pytest.fixture
def approval_messages(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records, for every message published to an approver's topic, whose topic it was."""
    from moto.sns.models import SNSBackend

    require_approval(stack)
    topics = {topic_of(stack, approver): approver for approver in [*APPROVERS, "carol@example.com"]}
    original = SNSBackend.publish
    stack.approval_messages = []

    def publish(self: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("arn") in topics:
            stack.approval_messages.append(topics[kwargs["arn"]])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SNSBackend, "publish", publish)
