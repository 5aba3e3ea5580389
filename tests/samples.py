"""Model values tests at several levels start from: a dev deployment request as the intake writes it, and a
pending prod approval."""

from __future__ import annotations

from typing import Any

from ecs_handoff.models import Approval, ImageChange

REQUEST: dict[str, Any] = {
    "deployment_id": "api-v1",
    "env": "dev",
    "service_id": "api",
    "service": {"cluster": "dev", "service": "api", "task_definition": "dev-api", "approval_timeout_seconds": 7200,
                "rollout_timeout_seconds": 600},
    "base_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:1",
    "images": [{"name": "app", "imageUri": "nginx:2"}],
    "source": {"bucket": "b", "key": "api/imagedefinitions.json.zip", "object_version": "v1", "sequencer": "01"},
    "requested_at": "2026-11-26T00:00:00.000Z",
}  # fmt: skip


def approval(**changes: Any) -> Approval:
    values: dict[str, Any] = {
        "approval_id": "a" * 32,
        "deployment_id": "api-v1",
        "execution_arn": "arn:aws:states:ap-northeast-1:123456789012:execution:sm:api-v1",
        "task_token": "token",
        "env": "prod",
        "service_id": "api",
        "changes": [ImageChange(container="app", image_before="a:1", image_after="a:2")],
        "base_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1",
        "running_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1",
        "requested_at": "2026-11-26T00:00:00.000Z",
        "expires_at": 4_000_000_000,
        "approvers": ["alice@example.com"],
        **changes,
    }
    return Approval(**values)
