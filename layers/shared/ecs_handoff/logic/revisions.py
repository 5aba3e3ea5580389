"""Revision housekeeping: handoff retires its own old task definition revisions, never Terraform's, and never
on the word of a record or a step's input: what it retires it reads from the registry and from ECS."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import registry
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.errors import HandoffError
from ecs_handoff.models import DeploymentRequest
from ecs_handoff.observability import logger
from ecs_handoff.taskdef import TAG_DEPLOYMENT_ID, short_name

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, SSMClient

# How many ACTIVE revisions past keep_revisions one deployment looks at: its predecessors already retired
# the older ones, and Terraform's revisions of the family are among the newest too.
PRUNE_WINDOW = 5


def prune_old_revisions(
    request: DeploymentRequest,
    records: DeploymentRecords,
    keep: set[str],
    ecs_client: ECSClient | None = None,
    registry_prefix: str | None = None,
    ssm_client: SSMClient | None = None,
) -> list[str]:
    """Deregisters handoff's own revisions of this service's family older than its newest `keep_revisions`.

    Runs when a deployment SUCCEEDED (from the finalizer, off the path to UpdateService). The family, the
    cluster and the service come from the registry entry as it is now, not from the request; the candidates
    are the family's ACTIVE revisions in ECS that carry handoff's deployment tag (read from ECS, so an edited
    record names nothing that gets deregistered). Never deregistered: the registry's base, a revision any of
    the service's deployments runs, and `keep` (the new, the previous and the base revision). Best effort: a
    failure is logged and the deployment goes on. Deregistered revisions stay describable (INACTIVE)."""
    if not registry_prefix:
        logger.warning("no registry to check revisions against; nothing retired", service_id=request.service_id)
        return []
    config = registry.load_service(registry_prefix, request.service_id, ssm_client)
    family = ecs_access.family_of(config.task_definition)
    service = ecs_access.describe_service(config.cluster, config.service, ecs_client)
    running = {str(service.get("taskDefinition", ""))} | {
        str(d.get("taskDefinition", "")) for d in service.get("deployments", [])
    }
    protected = {short_name(a) for a in (*keep, *running, config.task_definition) if a}
    newest = ecs_access.list_revisions(
        family, ecs_client, newest=config.keep_revisions + PRUNE_WINDOW + ecs_access.SCAN_MARGIN
    )
    ours = 0
    pruned: list[str] = []
    for arn in newest:
        _, tags = ecs_access.describe_task_definition(arn, ecs_client)
        deployment_id = next((t.get("value", "") for t in tags if t.get("key") == TAG_DEPLOYMENT_ID), None)
        if deployment_id is None:
            continue  # Terraform's (or someone else's): never handoff's to retire
        ours += 1
        if ours <= config.keep_revisions or short_name(arn) in protected:
            continue
        try:
            ecs_access.deregister_task_definition(arn, ecs_client)
        except HandoffError as exc:
            logger.warning("could not deregister an old revision", task_definition=arn, error=str(exc))
            continue
        pruned.append(arn)
        _mark_deregistered(records, deployment_id, arn)
    if pruned:
        logger.info("deregistered old revisions", task_definitions=[short_name(a) for a in pruned])
    return pruned


def _mark_deregistered(records: DeploymentRecords, deployment_id: str, arn: str) -> None:
    """Notes it on the record that registered the revision (its tag names it), when that record says so too."""
    with contextlib.suppress(HandoffError):  # the record is history; a missing or odd one changes nothing
        record = records.get(deployment_id)
        if record is not None and record.new_task_definition == arn:
            records.update(deployment_id, revision_deregistered=True)
