"""The release controls a registry entry names (its blocking alarms and change calendar), checked before anything
is uploaded: an alarm CloudWatch does not have, or a calendar Systems Manager cannot find, would make the gate
refuse every deployment of the service (INVALID), so `handoff upload` refuses first and `handoff doctor`
names it for each entry, with the fix."""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ecs_handoff.aws import release_controls
from ecs_handoff.aws.clients import aws_call, client, error_code
from ecs_handoff.errors import ArtifactRejected, AwsAccessError

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import CloudWatchClient, SSMClient
    from ecs_handoff.models import ServiceConfig

FIX = "fix {key} in the registry entry (Terraform writes it), then upload again"
NO_CALENDAR = "InvalidDocument"  # GetCalendarState's answer for a document that is not there or not a calendar
ALARMS_LISTED = 1000  # alarm names read to suggest the one meant (10 pages of DescribeAlarms)


@dataclass(frozen=True)
class ControlProblem:
    """A release control that would stop every deployment of the entry: what, and what to change."""

    detail: str
    fix: str


def calendar_arn(name: str, region: str, account: str) -> str:
    """A change calendar as IAM names it: its ARN as given (another account's), or this account's document."""
    return name if name.startswith("arn:") else f"arn:aws:ssm:{region}:{account}:document/{name}"


def control_problems(
    config: ServiceConfig, cloudwatch: CloudWatchClient | None = None, ssm: SSMClient | None = None
) -> list[ControlProblem]:
    """Each blocking alarm CloudWatch does not have (with the names it does have that look like it) and a
    change calendar that does not exist, read with the caller's credentials. AwsAccessError when they may not
    read them: that says nothing about the entry."""
    problems: list[ControlProblem] = []
    if config.blocking_alarms:
        cloudwatch = cloudwatch or client("cloudwatch")
        missing = [
            a.name for a in release_controls.alarm_states(config.blocking_alarms, cloudwatch) if a.state == "MISSING"
        ]
        known = _alarm_names(cloudwatch) if missing else []
        for name in missing:
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.8)
            meant = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            problems.append(
                ControlProblem(
                    f"blocking alarm {name!r} does not exist in CloudWatch{meant}; the gate would refuse every "
                    "deployment (a misspelt alarm would never hold one)",
                    FIX.format(key="blocking_alarms"),
                )
            )
    if config.change_calendar:
        try:
            release_controls.calendar_state(config.change_calendar, ssm)
        except AwsAccessError as exc:
            if error_code(exc.__cause__ or exc) != NO_CALENDAR:
                raise
            problems.append(
                ControlProblem(
                    f"change calendar {config.change_calendar!r} does not exist (or is not a change calendar); "
                    "the gate would refuse every deployment",
                    FIX.format(key="change_calendar"),
                )
            )
    return problems


def _alarm_names(cloudwatch: CloudWatchClient) -> list[str]:
    """The alarm names of this account and region (the first ALARMS_LISTED), to suggest the one meant."""
    names: list[str] = []
    with aws_call("listing alarms (cloudwatch:DescribeAlarms)"):
        pages = cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmTypes=["MetricAlarm", "CompositeAlarm"], PaginationConfig={"MaxItems": ALARMS_LISTED}
        )
        for page in pages:
            names += [str(a["AlarmName"]) for a in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]]
    return names


def check_release_controls(config: ServiceConfig) -> None:
    """upload's check: ArtifactRejected naming each control the gate would refuse, with the fix. When the
    caller may not read alarms or calendars, it says so and leaves the check to the gate (its role may)."""
    try:
        problems = control_problems(config)
    except AwsAccessError as exc:
        print(f"note: the release controls were not checked here ({exc}); the gate checks them", file=sys.stderr)
        return
    if problems:
        fixes = list(dict.fromkeys(p.fix for p in problems))
        raise ArtifactRejected("; ".join(p.detail for p in problems) + ". " + "; ".join(fixes))
