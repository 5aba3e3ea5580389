"""Rendering the new revision: Terraform's base, only the listed images changed."""

from __future__ import annotations

from typing import Any

import pytest
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import ImageDefinition
from ecs_handoff.taskdef import (
    TAG_DEPLOYMENT_ID,
    TAG_SOURCE_VERSION,
    check_policy,
    image_changes,
    is_handoff_revision,
    new_revision,
    registry_host,
    render,
    revision_changes,
    with_requested,
)

BASE: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-worker:12",
    "family": "dev-worker",
    "revision": 12,
    "status": "ACTIVE",
    "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-iam-role"}],
    "compatibilities": ["EC2", "FARGATE"],
    "registeredAt": "2026-11-01T00:00:00Z",
    "registeredBy": "arn:aws:iam::123456789012:role/terraform",
    "taskRoleArn": "arn:aws:iam::123456789012:role/ecs/dev-worker-task",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecs/dev-worker-execution",
    "cpu": "512",
    "memory": "1024",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "repo/worker:dev-old",
            "environment": [{"name": "A", "value": "1"}],
            "secrets": [{"name": "DB", "valueFrom": "arn:aws:ssm:ap-northeast-1:123456789012:parameter/db"}],
        },
        {"name": "log-router", "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"},
    ],
}
TAGS = [{"key": "managed-by", "value": "terraform"}, {"key": TAG_DEPLOYMENT_ID, "value": "stale"}]


def test_render_replaces_only_listed_images_and_keeps_sidecar() -> None:
    # GIVEN a base with an app and a log-router sidecar  WHEN only app is listed
    spec = render(BASE, TAGS, [ImageDefinition(name="app", image_uri="repo/worker:dev-new")], "worker-v1", "v1")
    # THEN app has the new image, the sidecar keeps Terraform's, everything else flows through
    images = {c["name"]: c["image"] for c in spec["containerDefinitions"]}
    assert images == {
        "app": "repo/worker:dev-new",
        "log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
    }
    assert spec["containerDefinitions"][0]["secrets"] == BASE["containerDefinitions"][0]["secrets"]
    assert spec["taskRoleArn"] == BASE["taskRoleArn"] and spec["cpu"] == "512"


def test_render_drops_read_only_fields() -> None:
    spec = render(BASE, [], [ImageDefinition(name="app", image_uri="repo/worker:x")], "d", "v")
    # (the exact list AWS documents is pinned in test_pinned_values.py, with literal names)
    assert not {"taskDefinitionArn", "revision", "status", "registeredAt", "registeredBy"} & set(spec)


def test_render_tags_deployment_and_source_version_replacing_stale_handoff_tags() -> None:
    spec = render(BASE, TAGS, [ImageDefinition(name="app", image_uri="repo/worker:x")], "worker-v9", "v9")
    assert spec["tags"] == [
        {"key": "managed-by", "value": "terraform"},
        {"key": TAG_DEPLOYMENT_ID, "value": "worker-v9"},
        {"key": TAG_SOURCE_VERSION, "value": "v9"},
    ]


def test_render_leaves_out_the_tags_aws_reserves() -> None:
    # GIVEN a base registered by CloudFormation: AWS's own aws: tags, which ECS refuses in a request
    reserved = [{"key": "aws:cloudformation:stack-name", "value": "infra"}, {"key": "AWS:x", "value": "y"}]
    # WHEN it is rendered, with 48 tags of the team's own besides
    own = [{"key": f"k{i}", "value": "v"} for i in range(48)]
    spec = render(BASE, reserved + own, [ImageDefinition(name="app", image_uri="repo/worker:x")], "d", "v")
    # THEN the aws: tags are not copied, and do not count toward ECS's 50
    assert [t["key"] for t in spec["tags"]] == [f"k{i}" for i in range(48)] + [TAG_DEPLOYMENT_ID, TAG_SOURCE_VERSION]


def test_render_does_not_mutate_the_base() -> None:
    render(BASE, TAGS, [ImageDefinition(name="app", image_uri="repo/worker:x")], "d", "v")
    assert BASE["containerDefinitions"][0]["image"] == "repo/worker:dev-old" and "revision" in BASE


def test_render_unknown_container_names_what_the_base_has() -> None:
    with pytest.raises(ArtifactRejected) as info:
        render(BASE, [], [ImageDefinition(name="nginx", image_uri="nginx")], "d", "v")
    assert str(info.value) == "container 'nginx' is not in task definition dev-worker:12; it has: app, log-router"


def test_render_refuses_when_no_room_for_tags() -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(49)]
    with pytest.raises(ArtifactRejected, match="needs room for 2 more"):
        render(BASE, tags, [ImageDefinition(name="app", image_uri="repo/worker:x")], "d", "v")


def test_image_changes_before_and_after() -> None:
    changes = image_changes(BASE, [ImageDefinition(name="app", image_uri="repo/worker:new")])
    assert [c.model_dump() for c in changes] == [
        {"container": "app", "image_before": "repo/worker:dev-old", "image_after": "repo/worker:new", "requested": None}
    ]


ECR_HOST = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        (f"{ECR_HOST}/api:dev-1", ECR_HOST),
        (f"{ECR_HOST}.evil.io/api:dev-1", f"{ECR_HOST}.evil.io"),
        ("public.ecr.aws/nginx/nginx:1", "public.ecr.aws"),
        ("localhost:5000/api:1", "localhost:5000"),
        ("localhost/api:1", "localhost"),
        ("nginx:1", "docker.io"),
        ("library/nginx:1", "docker.io"),
        ("Registry.Example.com/api:1", "registry.example.com"),
    ],
)
def test_registry_host_follows_dockers_reference_rule(uri: str, host: str) -> None:
    assert registry_host(uri) == host


def test_check_policy_refuses_a_look_alike_registry_host() -> None:
    images = [ImageDefinition(name="app", image_uri=f"{ECR_HOST}.evil.io/api:dev-1")]
    with pytest.raises(ArtifactRejected) as info:
        check_policy([ECR_HOST], None, "api", images)
    assert str(info.value) == (
        f"image '{ECR_HOST}.evil.io/api:dev-1' comes from registry '{ECR_HOST}.evil.io', "
        f"which api may not use (allowed: {ECR_HOST})"
    )


def test_check_policy_refuses_a_container_ci_may_not_set() -> None:
    images = [ImageDefinition(name="log-router", image_uri=f"{ECR_HOST}/fluent-bit:evil")]
    with pytest.raises(ArtifactRejected) as info:
        check_policy([ECR_HOST], ["app"], "worker", images)
    assert str(info.value) == (
        "container 'log-router' is not one CI may set for worker (containers: app); Terraform sets its image"
    )


def test_check_policy_accepts_allowed_registries_and_containers() -> None:
    images = [
        ImageDefinition(name="app", image_uri=f"{ECR_HOST}/api:dev-1"),
        ImageDefinition(name="proxy", image_uri="public.ecr.aws/nginx/nginx:1"),
    ]
    check_policy([ECR_HOST, "public.ecr.aws"], ["app", "proxy"], "api", images)


def revision(**task: Any) -> dict[str, Any]:
    containers = task.pop("containers")
    return {"family": "prod-api", "cpu": "512", "memory": "1024", "containerDefinitions": containers, **task}


def test_revision_changes_show_a_container_going_back_to_the_base_image() -> None:
    # GIVEN nginx running a CI image, and an upload that lists only the app
    running = revision(containers=[{"name": "app", "image": "r/app:1"}, {"name": "nginx", "image": "r/nginx:ci-7"}])
    base = revision(containers=[{"name": "app", "image": "r/app:0"}, {"name": "nginx", "image": "r/nginx:base"}])
    new = new_revision(base, [ImageDefinition(name="app", image_uri="r/app:2")])
    # THEN both containers change: app to the upload, nginx back to the base
    images, other = revision_changes(running, new)
    assert [(c.container, c.image_before, c.image_after) for c in images] == [
        ("app", "r/app:1", "r/app:2"),
        ("nginx", "r/nginx:ci-7", "r/nginx:base"),
    ]
    assert other == []


def test_revision_changes_name_every_other_difference_but_never_a_secret_value() -> None:
    running = revision(
        containers=[
            {
                "name": "app",
                "image": "r/app:1",
                "environment": [{"name": "MODE", "value": "a"}, {"name": "OLD", "value": "x"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:r:1:parameter/old"}],
                "portMappings": [{"containerPort": 80}],
            }
        ],
        taskRoleArn="arn:aws:iam::1:role/ecs/old",
    )
    new = revision(
        containers=[
            {
                "name": "app",
                "image": "r/app:1",
                "environment": [{"name": "MODE", "value": "b"}, {"name": "NEW", "value": "y"}],
                "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:r:1:parameter/new"}],
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            },
            {"name": "sidecar", "image": "r/side:1"},
        ],
        memory="2048",
        taskRoleArn="arn:aws:iam::1:role/ecs/new",
    )
    images, other = revision_changes(running, new)
    assert [c.container for c in images] == ["sidecar"]
    assert other == [
        "task memory: 1024 -> 2048",
        "task task role: arn:aws:iam::1:role/ecs/old -> arn:aws:iam::1:role/ecs/new",
        "container sidecar added",
        "app environment NEW added",
        "app environment OLD removed",
        "app environment MODE changed",
        "app secret DB_PASSWORD changed",
        "app ports: 80/tcp -> 8080/tcp",
    ]
    assert not any("parameter/" in line or line[-1] == "y" for line in other)


@pytest.mark.parametrize(
    ("tags", "handoffs"),
    [([{"key": TAG_DEPLOYMENT_ID, "value": "api-1a2b"}], True),
     ([{"key": "managed-by", "value": "terraform"}, {"key": TAG_DEPLOYMENT_ID, "value": "x"}], True),
     ([{"key": TAG_SOURCE_VERSION, "value": "v1"}], False), ([{"key": "managed-by", "value": "terraform"}], False),
     ([], False), ([{"value": TAG_DEPLOYMENT_ID}], False)],
)  # fmt: skip
def test_a_revision_is_handoffs_when_it_carries_the_deployment_id_tag(
    tags: list[dict[str, str]], handoffs: bool
) -> None:
    assert is_handoff_revision(tags) is handoffs


def test_with_requested_says_which_tag_ci_uploaded_for_each_pinned_container_only() -> None:
    from ecs_handoff.models import ImageChange

    digest = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api@sha256:" + "a" * 64
    changes = [
        ImageChange(container="app", image_before="old", image_after=digest),
        ImageChange(container="sidecar", image_before=None, image_after="public.ecr.aws/x/y@sha256:" + "b" * 64),
    ]
    shown = with_requested(changes, {"app": "api:dev-4f2a9c1", "other": "z:1"})
    assert [(c.container, c.requested, c.image_after) for c in shown] == [
        ("app", "api:dev-4f2a9c1", digest),
        ("sidecar", None, changes[1].image_after),
    ]
    assert shown[0].shown_after == f"api:dev-4f2a9c1 (pinned: {digest})"
    assert changes[0].requested is None  # the changes given are left as they were
