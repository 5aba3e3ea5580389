"""The service registry: what Terraform writes for each service (SSM parameters), validated here."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from pydantic import ConfigDict, Field, field_validator, model_validator

from ecs_handoff import limits, windows
from ecs_handoff.models.base import Model


class DeployWindow(Model):
    """When a service may be deployed: cron-style days and hours in a time zone."""

    model_config = ConfigDict(extra="forbid")

    days: str = Field(default="*", description="MON-FRI, MON,WED,FRI, SAT-SUN or * (every day)")
    hours: str = Field(description="HH:MM-HH:MM, end exclusive; 22:00-02:00 runs past midnight; 00:00-24:00 all day")
    time_zone: str = Field(default="UTC", description="an IANA time zone, e.g. Asia/Tokyo")

    @model_validator(mode="after")
    def _parses(self) -> DeployWindow:
        windows.parse_days(self.days)
        windows.parse_hours(self.hours)
        windows.zone(self.time_zone)
        return self


class ApprovalStage(StrEnum):
    """When the approvers decide: before anything is deployed, or while the new revision (green) serves only the
    test listener and ECS holds the deployment at a PAUSE hook before production traffic moves."""

    BEFORE_DEPLOY = "before_deploy"
    BEFORE_PRODUCTION_TRAFFIC = "before_production_traffic"


class TestTraffic(Model):
    """How an approver reaches green while it serves only test traffic (shown on the email and the page)."""

    __test__ = False  # not a pytest test class, whatever its name says
    model_config = ConfigDict(extra="forbid")

    url: str = Field(default="", max_length=500, pattern=r"^(https?://[^\s]+)?$", description="the test listener")
    header: str = Field(
        default="",
        max_length=200,
        pattern=r"^([A-Za-z0-9-]+: ?[^\r\n]{1,150})?$",
        description="a header the test listener rule matches, e.g. 'x-handoff-green: 1'",
    )

    @model_validator(mode="after")
    def _says_something(self) -> TestTraffic:
        if not (self.url or self.header):
            raise ValueError("test_traffic needs a url or a header (how an approver reaches green)")
        return self

    def words(self) -> str:
        """One line: how to reach green."""
        parts = [self.url] if self.url else []
        if self.header:
            parts.append(f"with header {self.header}")
        return " ".join(parts)


_ENV_NAME = r"^[a-z][a-z0-9-]{1,15}$"  # template.yaml's Env parameter
_PEM_PUBLIC_KEY = re.compile(r"^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]{60,800}-----END PUBLIC KEY-----\n?$")


class PromotionRule(Model):
    """Accept only images that SUCCEEDED and soaked in another environment, proven by a statement that
    environment signed with its KMS key (docs/security.md, "Promotion")."""

    model_config = ConfigDict(extra="forbid")

    from_env: str = Field(alias="from", pattern=_ENV_NAME, description="the environment images come from")
    soak_seconds: int = Field(
        ge=0, le=30 * 86400, description="how long they must have run there, since SUCCEEDED, without a rollback"
    )
    key_id: str = Field(
        pattern=r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$",
        description="the source environment's promotion key (its stack's PromotionKeyArn), as a key ARN",
    )
    public_key: str = Field(description="that key's public key, PEM (KMS GetPublicKey; Terraform aws_kms_public_key)")
    max_age_seconds: int = Field(
        default=3600,
        ge=60,
        le=7 * 86400,
        description="how old a statement may be: it says what held in the source when it was signed, no later",
    )

    @field_validator("public_key")
    @classmethod
    def _pem(cls, value: str) -> str:
        if not _PEM_PUBLIC_KEY.match(value):
            raise ValueError("public_key must be a PEM public key (-----BEGIN PUBLIC KEY----- ...)")
        return value


class ServiceConfig(Model):
    """A registry entry, written by Terraform: which ECS service a service id deploys to, and how."""

    model_config = ConfigDict(extra="forbid")

    cluster: str = Field(min_length=1, max_length=255)
    service: str = Field(min_length=1, max_length=255)
    task_definition: str = Field(
        min_length=1,
        max_length=1600,
        description="Base task definition: an ARN with revision, family:revision, or a family "
        "(then the newest revision Terraform registered, i.e. one without handoff's tags).",
    )
    approval_required: bool = False
    approvers: list[str] = Field(default_factory=list)
    approvals_required: int = Field(default=1, ge=1, le=10)
    approval_stage: ApprovalStage = Field(
        default=ApprovalStage.BEFORE_DEPLOY,
        description="before_deploy: approvers decide before anything changes; before_production_traffic: ECS "
        "deploys the new revision behind the test listener and a PAUSE hook holds it until they decide (a "
        "BLUE_GREEN, LINEAR or CANARY service with a PAUSE hook at POST_TEST_TRAFFIC_SHIFT).",
    )
    test_traffic: TestTraffic | None = Field(
        default=None, description="How approvers reach green on the test listener (URL and/or header)."
    )
    rollout_timeout_seconds: int = Field(default=1800, ge=5, le=86400)
    approval_timeout_seconds: int = Field(default=86400, ge=5, le=604800)
    poll_interval_seconds: int = Field(
        default=15, ge=1, le=300, description="How often a deployment waiting for the service's lock looks again."
    )
    rollout_check_seconds: int = Field(
        default=180,
        ge=1,
        le=3600,
        description="ECS's own deployment events decide the rollout; when none has arrived for this long "
        "(events can be lost or late, and FAILED comes only with the circuit breaker on), the workflow "
        "checks the deployment itself, and waits again, up to rollout_timeout_seconds.",
    )
    lock_timeout_seconds: int = Field(
        default=3600,
        ge=5,
        le=86400,
        description="How long a deployment waits for the one before it to finish before it gives up.",
    )
    approver_principals: dict[str, str] = Field(
        default_factory=dict,
        description="IAM principals (ARNs, * allowed) that may decide from the CLI, each mapped to the "
        "approver (an address in approvers) it acts as; nobody else can approve from the CLI.",
    )
    allowed_registries: list[str] | None = Field(
        default=None,
        description="Registry hosts images may come from (e.g. public.ecr.aws); absent: this account's "
        "ECR in this region only.",
    )
    containers: list[str] | None = Field(
        default=None,
        description="The containers CI may set; absent: every container of the base. Others keep "
        "Terraform's image (a sidecar such as a log router).",
    )
    pin_digests: bool = Field(
        default=True,
        description="Deploy this account's ECR images by the digest their tag had at intake, so a tag "
        "pushed again later cannot change what runs.",
    )
    keep_revisions: int = Field(
        default=10,
        ge=2,
        le=90,
        description="handoff deregisters its own revisions of this service beyond the newest N "
        "(never Terraform's, never the running or the previous one).",
    )

    # Release controls (CodePipeline V2's stage conditions); all optional, absent: none.
    deploy_windows: list[DeployWindow] | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="When the service may be deployed; outside every window a deployment waits (approved or not).",
    )
    change_calendar: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:/-]{3,200}$",
        description="An AWS Systems Manager Change Calendar (name or ARN): deploy only while it is OPEN.",
    )
    blocking_alarms: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="CloudWatch alarm names: while any is in ALARM a deployment does not start, and one going "
        "to ALARM during the bake rolls the deployment back.",
    )
    bake_seconds: int = Field(
        default=0,
        ge=0,
        le=86400,
        description="After the rollout COMPLETED, watch blocking_alarms this long; ALARM rolls back.",
    )
    gate_poll_seconds: int = Field(
        default=60, ge=1, le=3600, description="How often a waiting release control, or the bake, looks again."
    )
    max_gate_wait_seconds: int = Field(
        default=86400,
        ge=1,
        le=604800,
        description="The longest a deployment waits for its window, calendar or alarms before it ends (EXPIRED).",
    )
    override_principals: list[str] = Field(
        default_factory=list,
        description="IAM principals (ARNs, * allowed) that may start a deployment held by a release control "
        "with `handoff deploy-now` (recorded with their reason); nobody else can.",
    )

    promotion: PromotionRule | None = Field(
        default=None,
        description="Accept only digests that succeeded and soaked in the environment it names; absent: any upload.",
    )

    @property
    def has_release_gates(self) -> bool:
        return bool(self.deploy_windows or self.change_calendar or self.blocking_alarms)

    @property
    def has_bake(self) -> bool:
        return bool(self.bake_seconds and self.blocking_alarms)

    @property
    def approves_before_deploy(self) -> bool:
        """Whether the workflow asks the approvers before it deploys (else, if at all, at production traffic)."""
        return self.approval_required and self.approval_stage is ApprovalStage.BEFORE_DEPLOY

    @property
    def approves_before_production_traffic(self) -> bool:
        return self.approval_required and self.approval_stage is ApprovalStage.BEFORE_PRODUCTION_TRAFFIC

    @model_validator(mode="after")
    def _release_controls_agree(self) -> ServiceConfig:
        if self.deploy_windows and self.change_calendar:
            raise ValueError("give deploy_windows or change_calendar, not both")
        if self.bake_seconds and not self.blocking_alarms:
            raise ValueError("bake_seconds watches blocking_alarms: name at least one alarm")
        _check_arn_patterns("override_principals", self.override_principals)
        return self

    @model_validator(mode="after")
    def _loops_fit_in_one_execution(self) -> ServiceConfig:
        # A standard execution keeps at most 25,000 history events; its loops must fit with margin.
        rollout_checks = self.rollout_timeout_seconds / self.rollout_check_seconds
        lock_waits = self.lock_timeout_seconds / self.poll_interval_seconds
        gate_waits = (self.max_gate_wait_seconds if self.has_release_gates else 0) / self.gate_poll_seconds
        bake_checks = (self.bake_seconds if self.has_bake else 0) / self.gate_poll_seconds
        events = limits.planned_events(rollout_checks, lock_waits, gate_waits, bake_checks)
        if events > limits.HISTORY_BUDGET:
            controls = ""
            if gate_waits or bake_checks:
                controls = (
                    f", release controls holding up to {self.max_gate_wait_seconds if gate_waits else 0} s and a "
                    f"{self.bake_seconds if bake_checks else 0} s bake looked at every {self.gate_poll_seconds} s"
                )
            raise ValueError(
                f"rollout_timeout_seconds {self.rollout_timeout_seconds} checked every {self.rollout_check_seconds} s "
                f"and lock_timeout_seconds {self.lock_timeout_seconds} polled every {self.poll_interval_seconds} s"
                f"{controls} could need {events} Step Functions history events; at most {limits.HISTORY_BUDGET} fit "
                f"in one execution (AWS's limit is {limits.HISTORY_EVENT_LIMIT}), so raise rollout_check_seconds, "
                "poll_interval_seconds or gate_poll_seconds, or lower the timeouts"
            )
        return self

    @property
    def rollout_check_every(self) -> int:
        """How long one wait for ECS's event lasts before the workflow checks by itself."""
        return min(self.rollout_check_seconds, self.rollout_timeout_seconds)

    @model_validator(mode="after")
    def _principals_act_as_approvers(self) -> ServiceConfig:
        known = {a.lower() for a in self.approvers}
        _check_arn_patterns("approver_principals", self.approver_principals)
        for principal, approver in self.approver_principals.items():
            if approver.lower() not in known:
                raise ValueError(f"approver_principals: {principal} acts as {approver!r}, who is not in approvers")
        return self

    @field_validator("allowed_registries")
    @classmethod
    def _registries_are_hosts(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for host in value:
            if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?", host):
                raise ValueError(f"allowed registry {host!r} is not a registry host name (like public.ecr.aws)")
        return value

    @field_validator("approvers")
    @classmethod
    def _approvers_are_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"approver {address!r} is not an email address")
        return value


def _check_arn_patterns(field: str, patterns: Iterable[str]) -> None:
    """Principals the registry names (override_principals, approver_principals) are IAM ARNs or patterns of them."""
    for principal in patterns:
        if not principal.startswith("arn:"):
            raise ValueError(f"{field}: {principal!r} is not an IAM ARN (pattern)")
