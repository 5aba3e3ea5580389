"""Function settings from the environment the stack gives each function."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict


class Settings(BaseModel):
    """HANDOFF_* variables; each function gets only the ones its template entry sets."""

    model_config = ConfigDict(frozen=True)

    env: str
    bucket: str = ""
    registry_prefix: str = ""
    deployments_table: str = ""
    state_table: str = ""
    topic_arn: str = ""
    state_machine_arn: str = ""
    require_approval: bool = False
    approvals_table: str = ""
    approvals_topic_arn: str = ""
    approval_base_url: str = ""
    link_secret_arn: str = ""
    default_registry: str = ""  # this account's ECR in this region: where images may come from by default

    @classmethod
    def from_env(cls) -> Settings:
        values = {
            name.removeprefix("HANDOFF_").lower(): value
            for name, value in os.environ.items()
            if name.startswith("HANDOFF_")
        }
        if "env" not in values:
            raise RuntimeError("HANDOFF_ENV is not set; the stack must give every function its environment name")
        return cls.model_validate({k: v for k, v in values.items() if k in cls.model_fields})

    def need(self, field: str) -> str:
        """A setting this function cannot work without; a clear error when the template forgot it."""
        value = str(getattr(self, field))
        if not value:
            raise RuntimeError(f"HANDOFF_{field.upper()} is not set for this function; check template.yaml")
        return value
