"""Rendering the new revision: Terraform's base, only the listed images changed."""

from __future__ import annotations

import pytest
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import ImageDefinition
from ecs_handoff.taskdef import (
    READ_ONLY_FIELDS,
    TAG_DEPLOYMENT_ID,
    TAG_SOURCE_VERSION,
    check_policy,
    image_changes,
    registry_host,
    render,
)

BASE = {
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


def test_render_replaces_only_listed_images_and_keeps_sidecar():
    # GIVEN a base with an app and a log-router sidecar  WHEN only app is listed
    spec = render(BASE, TAGS, [ImageDefinition(name="app", imageUri="repo/worker:dev-new")], "worker-v1", "v1")
    # THEN app has the new image, the sidecar keeps Terraform's, everything else flows through
    images = {c["name"]: c["image"] for c in spec["containerDefinitions"]}
    assert images == {
        "app": "repo/worker:dev-new",
        "log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
    }
    assert spec["containerDefinitions"][0]["secrets"] == BASE["containerDefinitions"][0]["secrets"]
    assert spec["taskRoleArn"] == BASE["taskRoleArn"] and spec["cpu"] == "512"


def test_render_drops_read_only_fields():
    spec = render(BASE, [], [ImageDefinition(name="app", imageUri="repo/worker:x")], "d", "v")
    assert not set(READ_ONLY_FIELDS) & set(spec)


def test_render_tags_deployment_and_source_version_replacing_stale_handoff_tags():
    spec = render(BASE, TAGS, [ImageDefinition(name="app", imageUri="repo/worker:x")], "worker-v9", "v9")
    assert spec["tags"] == [
        {"key": "managed-by", "value": "terraform"},
        {"key": TAG_DEPLOYMENT_ID, "value": "worker-v9"},
        {"key": TAG_SOURCE_VERSION, "value": "v9"},
    ]


def test_render_does_not_mutate_the_base():
    render(BASE, TAGS, [ImageDefinition(name="app", imageUri="repo/worker:x")], "d", "v")
    assert BASE["containerDefinitions"][0]["image"] == "repo/worker:dev-old" and "revision" in BASE


def test_render_unknown_container_names_what_the_base_has():
    with pytest.raises(ArtifactRejected) as info:
        render(BASE, [], [ImageDefinition(name="nginx", imageUri="nginx")], "d", "v")
    assert str(info.value) == "container 'nginx' is not in task definition dev-worker:12; it has: app, log-router"


def test_render_refuses_when_no_room_for_tags():
    tags = [{"key": f"k{i}", "value": "v"} for i in range(49)]
    with pytest.raises(ArtifactRejected, match="needs room for 2 more"):
        render(BASE, tags, [ImageDefinition(name="app", imageUri="repo/worker:x")], "d", "v")


def test_image_changes_before_and_after():
    changes = image_changes(BASE, [ImageDefinition(name="app", imageUri="repo/worker:new")])
    assert [c.model_dump() for c in changes] == [
        {"container": "app", "image_before": "repo/worker:dev-old", "image_after": "repo/worker:new"}
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
    images = [ImageDefinition(name="app", imageUri=f"{ECR_HOST}.evil.io/api:dev-1")]
    with pytest.raises(ArtifactRejected) as info:
        check_policy([ECR_HOST], None, "api", images)
    assert str(info.value) == (
        f"image '{ECR_HOST}.evil.io/api:dev-1' comes from registry '{ECR_HOST}.evil.io', "
        f"which api may not use (allowed: {ECR_HOST})"
    )


def test_check_policy_refuses_a_container_ci_may_not_set() -> None:
    images = [ImageDefinition(name="log-router", imageUri=f"{ECR_HOST}/fluent-bit:evil")]
    with pytest.raises(ArtifactRejected) as info:
        check_policy([ECR_HOST], ["app"], "worker", images)
    assert str(info.value) == (
        "container 'log-router' is not one CI may set for worker (containers: app); Terraform sets its image"
    )


def test_check_policy_accepts_allowed_registries_and_containers() -> None:
    images = [
        ImageDefinition(name="app", imageUri=f"{ECR_HOST}/api:dev-1"),
        ImageDefinition(name="proxy", imageUri="public.ecr.aws/nginx/nginx:1"),
    ]
    check_policy([ECR_HOST, "public.ecr.aws"], ["app", "proxy"], "api", images)
