"""Outcome notifications: one per terminal outcome, as readable text for email, and as a custom
notification for Amazon Q Developer in chat applications (formerly AWS Chatbot) for Slack and Teams."""

from __future__ import annotations

from typing import Any

from ecs_handoff.approvals.page import CI_HEADING
from ecs_handoff.models import DeploymentRecord, one_line, without_controls
from ecs_handoff.taskdef import short_name


def subject(record: DeploymentRecord) -> str:
    return f"[handoff {record.env}] {record.service}: {record.outcome.value}"


def body(record: DeploymentRecord) -> str:
    lines = [
        f"Deployment {record.id}",
        f"Service:     {record.service} (env {record.env})",
        f"Outcome:     {record.outcome.value}",
        f"Why:         {record.reason}",
    ]
    if record.source:
        lines += [
            f"Artifact:    s3://{record.source.bucket}/{record.source.key}",
            f"Version:     {record.source.object_version}",
            # S3's event names only the requester's account (or an AWS service), never the person or role.
            f"S3 account:  {record.source.requester or 'unknown'} (the uploader's account, as S3 names it)",
        ]
    for change in record.images:
        lines.append(f"Image:       {change.container}: {change.image_before or '(unknown)'} -> {change.shown_after}")
    lines += [f"Change:      {change}" for change in record.other_changes]
    if record.new_task_definition:
        lines.append(f"Revision:    {short_name(record.new_task_definition)}")
    if record.previous_task_definition:
        lines.append(f"Previous:    {short_name(record.previous_task_definition)}")
    lines.append(f"Started:     {record.started_at}")
    if record.finished_at:
        lines.append(f"Finished:    {record.finished_at}")
    if record.source and record.source.ci is not None:  # last: what handoff read comes before what CI says
        lines.append(f"{CI_HEADING}:")
        lines += [f"  {line}" for line in record.source.ci.lines()]
    # Every line is one line: nothing a person or CI typed (a comment in the reason) can add or forge lines.
    return "\n".join(without_controls(line)[:4000] for line in lines) + "\n"


CHAT_ICONS = {
    "SUCCEEDED": ":white_check_mark:",
    "FAILED": ":x:",
    "INVALID": ":no_entry:",
    "REJECTED": ":no_entry_sign:",
    "EXPIRED": ":hourglass:",
    "SUPERSEDED": ":fast_forward:",
}
CHAT_DESCRIPTION_LIMIT = 3500  # well inside a chat message; the full story is in the email and the history


def _chat_text(text: str, limit: int = 1000) -> str:
    """Stored text in chat markdown: one line, and no <, > or & (in Slack, <!channel> would ping everyone)."""
    return one_line(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def console_url(execution_arn: str) -> str:
    """The execution's history in the Step Functions console (region from the ARN)."""
    parts = execution_arn.split(":")
    region = parts[3] if len(parts) > 3 else ""
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def chat(record: DeploymentRecord) -> dict[str, Any]:
    """The custom notification Amazon Q Developer in chat applications shows as a card (its documented
    event schema: version 1.0, source custom, content, metadata); threaded per service and environment."""
    lines = [f"*Why:* {_chat_text(record.reason)}"]
    for change in record.images:
        after = change.requested or change.image_after
        lines.append(f"*{_chat_text(change.container, 100)}:* `{_chat_text(after, 300)}`")
    if record.new_task_definition:
        lines.append(f"*Revision:* {short_name(record.new_task_definition)}")
    if record.approved_by:
        lines.append(f"*Approved by:* {_chat_text(', '.join(record.approved_by), 500)}")
    lines.append(f"*Deployment:* `{record.id}`")
    next_steps = [f"`handoff history --env {record.env} --service {record.service}`"]
    if record.execution_arn:
        next_steps.append(f"<{console_url(record.execution_arn)}|Execution history in the Step Functions console>")
    icon = CHAT_ICONS.get(record.outcome.value, ":information_source:")
    return {
        "version": "1.0",
        "source": "custom",
        "id": record.id,
        "content": {
            "textType": "client-markdown",
            "title": f"{icon} {record.service} in {record.env}: {record.outcome.value}",
            "description": "\n".join(lines)[:CHAT_DESCRIPTION_LIMIT],
            "nextSteps": next_steps,
            "keywords": [record.env, record.service, record.outcome.value],
        },
        "metadata": {
            "threadId": f"handoff-{record.env}-{record.service}",
            "summary": subject(record),
            "eventType": f"Deployment{record.outcome.value.title().replace('_', '')}",
            "relatedResources": [r for r in (record.execution_arn, record.new_task_definition) if r],
            "additionalContext": {"deployment_id": record.id, "env": record.env, "service": record.service},
        },
    }
