"""The deployments table: one record per deployment."""

from __future__ import annotations

from pydantic import Field

from ecs_handoff.models.approvals import ApprovalVote, VoteDecision
from ecs_handoff.models.base import Model, Outcome, Phase
from ecs_handoff.models.workflow import ImageChange, ImageDefinition, Source, VerdictSource


class Provenance(Model):
    """A promotion the intake verified: the source deployment it came from and how long it soaked there."""

    from_env: str
    account: str
    deployment_id: str
    succeeded_at: str
    soaked_seconds: int
    attested_at: str
    key_id: str

    def summary(self, service: str) -> str:
        """'promoted from dev api-1a2b3c4d, soaked 2 h' (history and the approval page; the short id is the
        CLI's: the service and the first 8 characters of the S3 version, which every command accepts)."""
        rest = self.deployment_id.removeprefix(f"{service}-")
        short = f"{service}-{rest[:8]}" if rest != self.deployment_id else self.deployment_id[:20]
        return f"promoted from {self.from_env} {short}, soaked {_duration(self.soaked_seconds)}"


def _duration(seconds: int) -> str:
    if seconds >= 86400:
        return f"{seconds // 86400} d" if seconds % 86400 < 3600 else f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds // 3600} h" if seconds % 3600 < 60 else f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


class DeploymentRecord(Model):
    """One row per deployment in the deployments table."""

    id: str
    env: str
    service: str
    outcome: Outcome
    reason: str = ""
    phase: Phase | None = None
    cluster: str = ""
    ecs_service: str = ""
    source: Source | None = None
    images: list[ImageChange] = Field(default_factory=list)
    # What the intake validated, pinned by digest: written once when the record is created (no step's
    # update may set it), and the only images the deploy step will register.
    validated_images: list[ImageDefinition] | None = None
    deploy_claimed_at: str | None = None  # set once, by the deploy step's first attempt (claim_deploy)
    other_changes: list[str] = Field(default_factory=list)  # differences outside images, in words
    base_task_definition: str | None = None
    new_task_definition: str | None = None
    previous_task_definition: str | None = None
    ecs_deployment_id: str | None = None
    execution_arn: str | None = None
    approval_id: str | None = None
    approvals: list[ApprovalVote] = Field(default_factory=list)  # each decision, in the order it was recorded
    rollout: dict[str, int] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    timeline: dict[str, str] = Field(default_factory=dict)
    notified_at: str | None = None  # set by the one finalizer that sends the outcome notification
    notes: list[str] = Field(default_factory=list)  # what happened after the outcome (a late decision)
    revision_deregistered: bool = False  # new_task_definition was deregistered as older than keep_revisions
    verdict_by: VerdictSource | None = None  # what decided the rollout: ECS's event or handoff's own check
    ecs_reported_at: str | None = None  # when ECS reported the deployment COMPLETED or FAILED
    gate: dict[str, str] = Field(default_factory=dict)  # what a release control holds it for (reason, opens_at)
    override: dict[str, str] | None = None  # `handoff deploy-now`: who, why, when
    # Production traffic steps the lifecycle hook held and released (logic/lifecycle_hook.py), in order.
    release_holds: list[dict[str, str]] = Field(default_factory=list)
    # BLUE_GREEN, LINEAR and CANARY services: the ECS service deployment as last seen (ARN, strategy, status,
    # stage, production and test weights blue/green, hook states, how to reach green); each stage it was seen
    # at is on the timeline as ecs:<STAGE>.
    service_deployment: dict[str, str] = Field(default_factory=dict)
    # A promotion the intake verified (the registry's promotion rule): which source deployment, how long it soaked.
    promoted_from: Provenance | None = None

    @property
    def object_version(self) -> str | None:
        return self.source.object_version if self.source else None

    @property
    def approved_by(self) -> list[str]:
        return [v.approver for v in self.approvals if v.decision is VoteDecision.APPROVE]
