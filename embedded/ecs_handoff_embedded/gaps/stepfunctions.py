"""#5 SendTaskFailure keeps its `cause` (moto's handler drops it).
#7 StopExecution aborts at once, also while a task waits for its token (moto's worker keeps waiting until
the token's timeout), and keeps the error and cause it was given; an execution that ends emits "Step
Functions Execution Status Change" to EventBridge, as AWS does (moto emits none), with AWS's two
unkindnesses: the event leaves input and output out (null, inputDetails.included false) when together they
exceed 248 KB, and, delivered best effort, it can be lost: `dropped()` true drops it (EmbeddedAws
.drop_execution_status_events), kept in `emitted` all the same.
#10 A Choice rule whose Variable path is not in the input fails the execution with States.Runtime, as
AWS does; moto takes the rule as false and goes on (to Default), which would hide a renamed ResultPath.
IsPresent rules still test for a missing path."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

from ecs_handoff_embedded.gaps.events import Deliveries, aws_event, put_event
from ecs_handoff_embedded.gaps.patching import Undo, all_of, replace
from ecs_handoff_embedded.runner import FunctionRunner


def install_send_task_failure_cause() -> Undo:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    return replace(StepFunctionResponse, "send_task_failure", send_task_failure)


# Beyond this, input and output together, the status event carries neither (Step Functions developer guide,
# "Step Functions Execution Status Change" events: inputDetails/outputDetails "included": false).
EVENT_DATA_LIMIT_BYTES = 248 * 1024


def execution_status_event(execution: Any) -> dict[str, Any]:
    """The event AWS sends when an execution's status changes (Step Functions developer guide, "Step
    Functions Execution Status Change" event examples)."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if value is not None else None

    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    ended = execution.exec_worker.env.program_state() if execution.exec_worker is not None else None
    error = execution.error or getattr(ended, "error", None)  # StopExecution's error and cause live there
    cause = execution.cause or getattr(ended, "cause", None)
    data = execution.input_data if isinstance(execution.input_data, str) else json.dumps(execution.input_data)
    output = json.dumps(execution.output) if status == "SUCCEEDED" else None
    included = len(data.encode()) + len((output or "").encode()) <= EVENT_DATA_LIMIT_BYTES
    return aws_event(
        "aws.states",
        "Step Functions Execution Status Change",
        execution.account_id,
        execution.region_name,
        [execution.exec_arn],
        {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": status,
            "startDate": millis(execution.start_date),
            "stopDate": millis(execution.stop_date),
            "input": data if included else None,
            "output": output if included else None,
            "inputDetails": {"included": included},
            "outputDetails": {"included": included} if status == "SUCCEEDED" else None,
            "error": error,
            "cause": cause,
        },
    )


def install_execution_status_events(
    runner: FunctionRunner,
    deliveries: Deliveries,
    dropped: Callable[[], bool] = lambda: False,
    emitted: list[dict[str, Any]] | None = None,
) -> Undo:
    """Each execution's end emits its status event; while `dropped()` is true it is lost on the way (AWS
    delivers these best effort), and `emitted` keeps every event either way."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        event = execution_status_event(execution)
        if emitted is not None:
            emitted.append(event)
        if not dropped():
            put_event(execution.account_id, execution.region_name, event, runner, deliveries)

    return replace(BaseExecutionWorkerCommunication, "terminated", terminated)


def install_stop_execution() -> Undo:
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    original_stop = Execution.stop

    def stop(self: Any, stop_date: dt.datetime, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date, error, cause)
        worker = self.exec_worker
        if worker is not None:  # wake every task token wait, so the worker sees it was stopped and ends
            for endpoint in list(worker.env.callback_pool_manager._pool.values()):
                endpoint._notify_event.set()

    def stop_execution(self: Any) -> Any:
        arn = self._get_param("executionArn")
        execution = self.stepfunction_backend.describe_execution(arn)
        execution.stop(
            stop_date=dt.datetime.now(dt.UTC), error=self._get_param("error"), cause=self._get_param("cause")
        )
        deadline = time.monotonic() + 5
        while execution.exec_status is not None and str(execution.exec_status.value) == "RUNNING":
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return ActionResult({"stopDate": execution.stop_date or dt.datetime.now(dt.UTC)})

    original_set_error = Environment.set_error

    def set_error(self: Any, error: Any) -> None:
        if isinstance(self._program_state, ProgramStopped):
            return  # a stopped execution stays ABORTED, as in AWS, whatever its interrupted state raises
        original_set_error(self, error)

    return all_of(
        replace(Execution, "stop", stop),
        replace(StepFunctionResponse, "stop_execution", stop_execution),
        replace(Environment, "set_error", set_error),
    )


def install_strict_choice() -> Undo:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
        ComparisonOperatorType,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import (
        ComparisonVariable,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def _eval_body(self: Any, env: Any) -> None:
        self.variable.eval(env)
        if isinstance(env.stack[-1], NoSuchVariable) and self.comparison_function.operator_type not in (
            ComparisonOperatorType.IsPresent,
        ):
            path = self.variable.string_sampler.literal_value
            cause = f"Invalid path '{path}': The choice state's condition path references an invalid value."
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                    event_type=HistoryEventType.ExecutionFailed,
                    event_details=EventDetails(
                        executionFailedEventDetails=ExecutionFailedEventDetails(
                            error=StatesErrorNameType.StatesRuntime.to_name(), cause=cause
                        )
                    ),
                )
            )
        self.comparison_function.eval(env)

    return replace(ComparisonVariable, "_eval_body", _eval_body)
