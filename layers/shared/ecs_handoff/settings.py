"""Function settings: one model per function, read from the HANDOFF_* variables its template.yaml entry
sets, validated once at cold start (each functions/<name>/app.py builds its own at import).

Every variable a function reads is required and non-empty: a variable the template forgot or misspelt
stops the function at cold start, naming it, instead of quietly turning a feature off.
tests/unit/test_settings.py holds each function's model to its entry in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Setting = Annotated[str, Field(min_length=1)]
PREFIX = "HANDOFF_"


def variable(field: str) -> str:
    """The environment variable a settings field is read from."""
    return f"{PREFIX}{field.upper()}"


class FunctionSettings(BaseModel):
    """HANDOFF_ENV, which every function gets (template.yaml's Globals)."""

    # defer_build: a function builds only its own settings model, at its cold start, not all thirteen.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    env: Setting

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        environ = os.environ if environ is None else environ
        try:
            return cls.model_validate(
                {k.removeprefix(PREFIX).lower(): v for k, v in environ.items() if k.startswith(PREFIX)}
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{variable(str(error['loc'][0]))} is {'not set' if error['type'] == 'missing' else 'empty or invalid'}"
                for error in exc.errors()
            )
            raise RuntimeError(f"{problems} for this function ({cls.__name__}); check template.yaml") from None


class IntakeSettings(FunctionSettings):
    bucket: Setting
    registry_prefix: Setting
    deployments_table: Setting
    state_table: Setting
    topic_arn: Setting
    state_machine_arn: Setting
    require_approval: bool  # the environment's floor: every deployment needs approval
    default_registry: Setting  # this account's ECR in this region: where images may come from by default


class LockSettings(FunctionSettings):
    deployments_table: Setting
    state_table: Setting
    approvals_table: Setting  # a newer upload supersedes the approval a waiting deployment holds


class GateSettings(FunctionSettings):
    deployments_table: Setting
    state_table: Setting  # the lock, and `handoff deploy-now`'s overrides
    link_secret_arn: Setting  # verifies an override's signature (the operator API signs with it)


class LifecycleHookSettings(FunctionSettings):
    """ECS's lifecycle hook before each production traffic shift: the record, the registry entry, the held
    steps and a signed deploy-now."""

    deployments_table: Setting
    state_table: Setting  # hookhold#<service deployment>#<step> items, and deploy-now overrides (read)
    registry_prefix: Setting
    link_secret_arn: Setting  # verifies a deploy-now's signature


class DeploySettings(FunctionSettings):
    """The deploy step re-reads what it deploys: the record, the registry entry, the lock, release controls,
    a signed deploy-now, and the approval."""

    deployments_table: Setting
    approvals_table: Setting
    state_table: Setting  # the service's lock, and a deploy-now override
    link_secret_arn: Setting  # verifies a deploy-now's signature
    registry_prefix: Setting
    require_approval: bool
    default_registry: Setting


class RolloutSettings(FunctionSettings):
    deployments_table: Setting
    state_table: Setting  # the task tokens waiting for ECS's event


class RolloutEventSettings(FunctionSettings):
    state_table: Setting
    deployments_table: Setting  # what ECS's service deployment shows (stage, weights, hooks), on the record


class TrafficSettings(FunctionSettings):
    """The step at a PAUSE hook re-reads the record, the registry entry and the approval before it continues a
    service deployment (or rolls it back)."""

    deployments_table: Setting
    approvals_table: Setting
    registry_prefix: Setting
    require_approval: bool
    default_registry: Setting


class RollbackSettings(FunctionSettings):
    deployments_table: Setting
    registry_prefix: Setting  # the service's cluster, service and base family, not the step input's


class FinalizeSettings(FunctionSettings):
    deployments_table: Setting
    state_machine_arn: Setting  # the workflow whose history must show the state this step was handed
    registry_prefix: Setting  # the family whose old handoff revisions are retired, not the request's
    state_table: Setting
    topic_arn: Setting
    approvals_table: Setting  # an approval still open when the deployment ends is closed


class RequestApprovalSettings(FunctionSettings):
    deployments_table: Setting
    registry_prefix: Setting  # who approves what comes from the registry and the record, not the step's input
    require_approval: bool
    default_registry: Setting
    approvals_table: Setting
    sns_arn_prefix: Setting  # arn:<partition>:sns:<region>:<account>: where each approver's topic is
    approval_base_url: Setting
    link_secret_arn: Setting


class ApprovalPageSettings(FunctionSettings):
    deployments_table: Setting
    approvals_table: Setting
    link_secret_arn: Setting


class OperatorApiSettings(FunctionSettings):
    deployments_table: Setting
    approvals_table: Setting
    state_table: Setting  # signed deploy-now overrides
    registry_prefix: Setting  # override_principals, read from the registry entry as it is now
    link_secret_arn: Setting  # signs overrides
    promotion_key_arn: Setting  # signs promotion statements (`handoff promote`)


class SweeperSettings(FunctionSettings):
    """The sweeper finalizes as the finalizer does (its tables and topic) what it finds through the registry
    and Step Functions."""

    deployments_table: Setting
    state_table: Setting
    approvals_table: Setting
    topic_arn: Setting
    registry_prefix: Setting  # the registered services it looks at
    state_machine_arn: Setting  # each record's execution: this state machine's, named after the deployment
