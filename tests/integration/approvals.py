"""The approvers of dev's api in the integration stack: the registry asking them, their own topics, and whose topic
each approval message went to (recorded by the `approval_messages` fixture in conftest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.integration.steps import edit_registry

if TYPE_CHECKING:  # conftest.py imports this module for its fixtures
    from tests.integration.conftest import Stack

APPROVERS = ["alice@example.com", "bob@example.com"]


def require_approval(stack: Stack) -> None:
    """Terraform's registry entry for api asks the approvers (before the upload, so the intake copies it)."""
    edit_registry(stack, approval_required=True, approvers=APPROVERS)


def approval_emails(stack: Stack) -> list[str]:
    """Whose topic each approval message published since the last call went to."""
    sent = stack.approval_messages[:]
    stack.approval_messages.clear()
    return sorted(sent)


def topic_of(stack: Stack, approver: str) -> str:
    """The approver's own topic, where request-approval looks for it (Terraform's side made it: seed.seed)."""
    from ecs_handoff.approvals import channel

    return channel.topic_arn(stack.environment("request-approval")["HANDOFF_SNS_ARN_PREFIX"], "dev", approver)
