"""Plain-text notifications: one readable message per terminal outcome."""

from __future__ import annotations

from ecs_handoff.models import DeploymentRecord, without_controls
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
            f"Uploaded by: {record.source.requester or 'unknown'}",
        ]
        if record.source.ci is not None:
            lines += [f"CI says:     {line}" for line in record.source.ci.lines()]
    for change in record.images:
        after = f"{change.requested} (pinned: {change.image_after})" if change.requested else change.image_after
        lines.append(f"Image:       {change.container}: {change.image_before or '(unknown)'} -> {after}")
    lines += [f"Change:      {change}" for change in record.other_changes]
    if record.new_task_definition:
        lines.append(f"Revision:    {short_name(record.new_task_definition)}")
    if record.previous_task_definition:
        lines.append(f"Previous:    {short_name(record.previous_task_definition)}")
    lines.append(f"Started:     {record.started_at}")
    if record.finished_at:
        lines.append(f"Finished:    {record.finished_at}")
    # Every line is one line: nothing a person or CI typed (a comment in the reason) can add or forge lines.
    return "\n".join(without_controls(line)[:4000] for line in lines) + "\n"
