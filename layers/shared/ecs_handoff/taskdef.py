"""Renders the new task definition: Terraform's base with only the listed containers' images replaced."""

from __future__ import annotations

import copy
from typing import Any

from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import ImageChange, ImageDefinition

READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)
TAG_DEPLOYMENT_ID = "handoff:deployment-id"
TAG_SOURCE_VERSION = "handoff:source-version"
MAX_TAGS = 50


def short_name(task_definition_arn: str) -> str:
    """family:revision from a task definition ARN (what people read in messages)."""
    return task_definition_arn.rsplit("/", 1)[-1]


def check_containers(base: dict[str, Any], images: list[ImageDefinition]) -> None:
    """Every listed container must exist in the base task definition."""
    present = [c["name"] for c in base.get("containerDefinitions", [])]
    for image in images:
        if image.name not in present:
            raise ArtifactRejected(
                f"container {image.name!r} is not in task definition "
                f"{short_name(base.get('taskDefinitionArn', '?'))}; it has: {', '.join(present) or 'no containers'}"
            )


def registry_host(image_uri: str) -> str:
    """The registry an image reference names (Docker's rule: a first path component with a dot, a port
    or "localhost" is a host; otherwise the image is on Docker Hub)."""
    first, _, rest = image_uri.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def check_policy(
    allowed_registries: list[str], containers: list[str] | None, service_id: str, images: list[ImageDefinition]
) -> None:
    """What the registry entry lets CI set: which containers, and images from which registries."""
    for image in images:
        if containers is not None and image.name not in containers:
            raise ArtifactRejected(
                f"container {image.name!r} is not one CI may set for {service_id} "
                f"(containers: {', '.join(containers) or 'none'}); Terraform sets its image"
            )
        host = registry_host(image.image_uri)
        if host not in allowed_registries:
            raise ArtifactRejected(
                f"image {image.image_uri!r} comes from registry {host!r}, which {service_id} may not use "
                f"(allowed: {', '.join(allowed_registries)})"
            )


def image_changes(running: dict[str, Any] | None, images: list[ImageDefinition]) -> list[ImageChange]:
    """Each listed container's image before (in the running revision, if known) and after."""
    before = {c["name"]: c.get("image") for c in (running or {}).get("containerDefinitions", [])}
    return [ImageChange(container=i.name, image_before=before.get(i.name), image_after=i.image_uri) for i in images]


def render(
    base: dict[str, Any],
    base_tags: list[dict[str, str]],
    images: list[ImageDefinition],
    deployment_id: str,
    object_version: str,
) -> dict[str, Any]:
    """RegisterTaskDefinition arguments: the base, read-only fields dropped, images swapped, tags added."""
    check_containers(base, images)
    spec = new_revision(base, images)
    for field in READ_ONLY_FIELDS:
        spec.pop(field, None)
    # aws:-prefixed tags are AWS's own (CloudFormation's stack tags, for one): ECS refuses them in a request,
    # and they do not count toward the 50.
    tags = [t for t in base_tags if not t["key"].startswith("handoff:") and not t["key"].lower().startswith("aws:")]
    tags += [
        {"key": TAG_DEPLOYMENT_ID, "value": deployment_id[:256]},
        {"key": TAG_SOURCE_VERSION, "value": object_version[:256]},
    ]
    if len(tags) > MAX_TAGS:
        raise ArtifactRejected(
            f"the base task definition has {len(base_tags)} tags; handoff needs room for 2 more (ECS allows {MAX_TAGS})"
        )
    spec["tags"] = tags
    return spec


def is_handoff_revision(tags: list[dict[str, str]]) -> bool:
    return any(t.get("key") == TAG_DEPLOYMENT_ID for t in tags)


# --- the whole change: what the new revision changes against the running one -------------------------

TASK_FIELDS = {
    "cpu": "CPU",
    "memory": "memory",
    "taskRoleArn": "task role",
    "executionRoleArn": "execution role",
    "networkMode": "network mode",
    "runtimePlatform": "runtime platform",
    "ephemeralStorage": "ephemeral storage",
    "pidMode": "PID mode",
    "ipcMode": "IPC mode",
}
CONTAINER_FIELDS = {
    "cpu": "CPU",
    "memory": "memory",
    "memoryReservation": "memory reservation",
    "essential": "essential",
    "command": "command",
    "entryPoint": "entry point",
    "workingDirectory": "working directory",
    "user": "user",
    "healthCheck": "health check",
    "logConfiguration": "log configuration",
    "dependsOn": "depends on",
    "readonlyRootFilesystem": "read-only root filesystem",
    "privileged": "privileged",
    "linuxParameters": "Linux parameters",
}


def new_revision(base: dict[str, Any], images: list[ImageDefinition]) -> dict[str, Any]:
    """What will run: the base with the listed images (without handoff's tags)."""
    spec = copy.deepcopy(base)
    wanted = {i.name: i.image_uri for i in images}
    for container in spec.get("containerDefinitions", []):
        if container["name"] in wanted:
            container["image"] = wanted[container["name"]]
    return spec


def revision_changes(running: dict[str, Any] | None, new: dict[str, Any]) -> tuple[list[ImageChange], list[str]]:
    """Every container whose image changes (listed by CI or going back to the base's image), and every
    other difference, in words. Secret and environment values are never shown, only their names."""
    before = {c["name"]: c for c in (running or {}).get("containerDefinitions", [])}
    after = {c["name"]: c for c in new.get("containerDefinitions", [])}
    images = [
        ImageChange(
            container=name,
            image_before=before[name].get("image") if name in before else None,
            image_after=str(c.get("image", "")),
        )
        for name, c in after.items()
        if running is None or name not in before or before[name].get("image") != c.get("image")
    ]
    if running is None:
        return images, []
    other: list[str] = []
    for key, label in TASK_FIELDS.items():
        if running.get(key) != new.get(key):
            other.append(f"task {label}: {_shown(running.get(key))} -> {_shown(new.get(key))}")
    other += [f"container {n} added" for n in after if n not in before]
    other += [f"container {n} removed" for n in before if n not in after]
    for name in (n for n in after if n in before):
        old, cur = before[name], after[name]
        for key, label in CONTAINER_FIELDS.items():
            if old.get(key) != cur.get(key):
                other.append(f"{name} {label}: {_shown(old.get(key))} -> {_shown(cur.get(key))}")
        other += _named_changes(name, "environment", old.get("environment"), cur.get("environment"), "value")
        other += _named_changes(name, "secret", old.get("secrets"), cur.get("secrets"), "valueFrom")
        ports = (_ports(old), _ports(cur))
        if ports[0] != ports[1]:
            other.append(f"{name} ports: {', '.join(ports[0]) or 'none'} -> {', '.join(ports[1]) or 'none'}")
    return images, other


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, dict | list):
        import json

        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


def _named_changes(container: str, kind: str, old: Any, new: Any, value_key: str) -> list[str]:
    """Names added, removed, or whose value changed: never the values (secrets, credentials in env)."""
    before = {e["name"]: e.get(value_key) for e in old or []}
    after = {e["name"]: e.get(value_key) for e in new or []}
    changes = [f"{container} {kind} {n} added" for n in after if n not in before]
    changes += [f"{container} {kind} {n} removed" for n in before if n not in after]
    changes += [f"{container} {kind} {n} changed" for n in after if n in before and before[n] != after[n]]
    return changes


def _ports(container: dict[str, Any]) -> list[str]:
    return sorted(
        f"{p.get('containerPort')}/{p.get('protocol', 'tcp')}" for p in container.get("portMappings", []) or []
    )


def with_requested(changes: list[ImageChange], pinned_from: dict[str, str]) -> list[ImageChange]:
    """Each pinned container's change, also saying which tag CI uploaded."""
    return [c.model_copy(update={"requested": pinned_from.get(c.container)}) for c in changes]
