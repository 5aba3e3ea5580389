"""Step Functions access: starting a deployment execution by its deterministic name, reading one back, and
resuming a task that waits for its token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client, error_code

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SFNClient
    from ecs_handoff.models import ExecutionStatusDetail


def start_execution(state_machine_arn: str, name: str, payload: str, sfn: SFNClient | None = None) -> str | None:
    """Starts the execution; returns its ARN, or None when one with this name already exists."""
    from botocore.exceptions import ClientError

    sfn = sfn or client("stepfunctions")
    with aws_call(f"starting execution {name}"):
        try:
            response = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return None
            raise
    return str(response["executionArn"])


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def execution_status(execution: str, sfn: SFNClient | None = None) -> str:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; NOT_FOUND when there is no such execution."""
    from ecs_handoff.errors import NotFound

    sfn = sfn or client("stepfunctions")
    try:
        with aws_call(f"describing execution {execution}"):
            return str(sfn.describe_execution(executionArn=execution)["status"])
    except NotFound:
        return "NOT_FOUND"


def describe_execution(execution: str, sfn: SFNClient | None = None) -> ExecutionStatusDetail | None:
    """The execution as Step Functions has it: its status, input (always included in the API's answer,
    whatever its size), error and cause, in the fields of the status change event's detail; None when
    there is no such execution (never started, or closed longer ago than Step Functions keeps history)."""
    from ecs_handoff.errors import NotFound
    from ecs_handoff.models import ExecutionStatusDetail

    sfn = sfn or client("stepfunctions")
    try:
        with aws_call(f"describing execution {execution}"):
            described = sfn.describe_execution(executionArn=execution)
    except NotFound:
        return None
    return ExecutionStatusDetail.model_validate(
        {k: described.get(k) for k in ("executionArn", "stateMachineArn", "name", "status", "input", "error", "cause")}
    )


# What SendTask* answers for a token nobody waits on any more (AWS Step Functions API reference).
TASK_ENDED_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


@contextmanager
def _resuming(what: str) -> Iterator[None]:
    """aws_call, except that a token that no longer waits is TaskEnded, not an access problem."""
    from botocore.exceptions import ClientError

    from ecs_handoff.errors import TaskEnded

    with aws_call(what):
        try:
            yield
        except ClientError as exc:
            if error_code(exc) in TASK_ENDED_CODES:
                raise TaskEnded(f"{what}: the workflow no longer waits ({error_code(exc)})") from exc
            raise


def send_task_success(task_token: str, output: dict[str, Any], sfn: SFNClient | None = None) -> None:
    import json

    sfn = sfn or client("stepfunctions")
    with _resuming("resuming the workflow (SendTaskSuccess)"):
        sfn.send_task_success(taskToken=task_token, output=json.dumps(output))


def send_task_failure(task_token: str, error: str, cause: str, sfn: SFNClient | None = None) -> None:
    sfn = sfn or client("stepfunctions")
    with _resuming(f"resuming the workflow (SendTaskFailure {error})"):
        sfn.send_task_failure(taskToken=task_token, error=error, cause=cause[:32768])


def last_scheduled_input(execution: str, sfn: SFNClient | None = None) -> tuple[str, str] | None:
    """(function ARN, input) of the newest Lambda invocation the execution scheduled, as its history records
    it (what the workflow itself passed the function); None when there is no such execution or invocation."""
    import json

    from ecs_handoff.errors import NotFound

    sfn = sfn or client("stepfunctions")
    try:
        with aws_call(f"reading the history of {execution}"):
            events = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=20)["events"]
    except NotFound:
        return None
    scheduled = [e for e in events if e.get("type") == "LambdaFunctionScheduled"]
    if not scheduled:
        return None
    newest = max(scheduled, key=lambda e: int(e["id"]))  # whichever order the history came in
    details: Any = newest.get("lambdaFunctionScheduledEventDetails") or {}
    return str(details.get("resource", "")), json.dumps(json.loads(details.get("input") or "null"), sort_keys=True)
