"""Revision housekeeping: handoff retires its own old task definition revisions, never Terraform's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import HandoffError
from ecs_handoff.models import DeploymentRequest
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient

# How many records past keep_revisions one deployment looks at: its predecessors already pruned the rest.
PRUNE_WINDOW = 5


def prune_old_revisions(
    request: DeploymentRequest, records: DeploymentRecords, keep: set[str], ecs_client: ECSClient | None = None
) -> list[str]:
    """Deregisters handoff's own revisions of this service older than the newest `keep_revisions`.

    Runs when a deployment SUCCEEDED (from the finalizer, off the path to UpdateService). Only revisions
    a deployment record says handoff registered are candidates, so Terraform's are never
    touched; `keep` (the new, the previous and the base revision) never is either. Best effort: a failure
    is logged and the deployment goes on. Deregistered revisions stay describable (INACTIVE)."""
    config = request.service
    recent = records.history(request.env, request.service_id, limit=config.keep_revisions + PRUNE_WINDOW)
    seen: set[str] = set()
    ours: list[tuple[str, str, bool]] = []  # (record id, revision, already deregistered), newest first
    for record in recent:
        if record.new_task_definition and record.new_task_definition not in seen:
            seen.add(record.new_task_definition)
            ours.append((record.id, record.new_task_definition, record.revision_deregistered))
    pruned = []
    for record_id, arn, done in ours[config.keep_revisions :]:
        if done or arn in keep:
            continue
        try:
            ecs_access.deregister_task_definition(arn, ecs_client)
            records.update(record_id, revision_deregistered=True)
        except HandoffError as exc:
            logger.warning("could not deregister an old revision", task_definition=arn, error=str(exc))
            continue
        pruned.append(arn)
    if pruned:
        logger.info("deregistered old revisions", task_definitions=[short_name(a) for a in pruned])
    return pruned
