"""Runs Lambda functions in this process: real handler, its own environment, warm module reuse."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from ecs_handoff_embedded.environ import function_environment
from ecs_handoff_embedded.iam import Authorizer

# Variables every function gets from the embedded AWS itself, as the Lambda runtime provides its own.
# Metrics are off: there is no CloudWatch here.
RUNTIME_VARIABLES = {
    "POWERTOOLS_METRICS_DISABLED": "true",
}


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"embedded/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class Invocation:
    function: str
    started: float
    duration: float
    error: str | None
    output: str = ""  # the payload the handler returned (or its error), as Lambda would return it


class FunctionRunner:
    """Maps deployed function names to their code folders and runs their handlers in-process."""

    def __init__(
        self, base_environment: dict[str, str], log_level: str = "WARNING", authorizer: Authorizer | None = None
    ) -> None:
        self.base_environment = dict(base_environment)
        self.authorizer = authorizer
        self.log_level = log_level
        self.code_dirs: dict[str, Path] = {}
        self._modules: dict[tuple[str, tuple[tuple[str, str], ...]], ModuleType] = {}
        self._import_lock = threading.Lock()
        self.invocations: list[Invocation] = []
        self._faults: dict[str, list[tuple[str, str]]] = {}
        self._held: dict[str, threading.Event] = {}
        self._replaced: dict[str, dict[str, tuple[Any, list[tuple[ModuleType, Any]]]]] = {}

    def hold(self, function_name: str) -> threading.Event:
        """Invocations of this function wait until the returned event is set (a test's way to make one
        thing happen before another: an ECS event before the rollout function stores its token)."""
        return self._held.setdefault(function_name, threading.Event())

    def inject_failure(self, function_name: str, error_type: str, message: str, times: int = 1) -> None:
        """The next `times` invocations of a function fail with this error, before its handler runs
        (fault injection for tests: a throttled dependency, a dead sandbox)."""
        self._faults.setdefault(function_name, []).extend([(error_type, message)] * times)

    def replace(self, function_name: str, name: str, value: Any) -> Callable[[], None]:
        """This function's handler module sees `value` as its global `name`, in its execution environments now
        and later (a test's way to fix what a handler passes in, such as its clock); returns the undo."""
        replaced: list[tuple[ModuleType, Any]] = []  # each module changed, with what it had
        with self._import_lock:
            self._replaced.setdefault(function_name, {})[name] = (value, replaced)
            for (key, _), module in self._modules.items():
                if key == function_name:
                    replaced.append((module, getattr(module, name)))
                    setattr(module, name, value)

        def undo() -> None:
            with self._import_lock:
                self._replaced.get(function_name, {}).pop(name, None)
                for module, original in replaced:
                    setattr(module, name, original)

        return undo

    def register(self, function_name: str, code_dir: Path) -> None:
        self.code_dirs[function_name] = code_dir

    def environment_for(self, fn: Any) -> dict[str, str]:
        env = dict(self.base_environment)
        env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update(RUNTIME_VARIABLES)
        env["POWERTOOLS_LOG_LEVEL"] = self.log_level
        if self.authorizer is not None:  # the execution role's session, as the Lambda runtime provides it
            env.update(self.authorizer.credentials_for(fn.function_name, fn.role))
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_REGION": fn.region,
                "AWS_DEFAULT_REGION": fn.region,
                "_HANDLER": fn.handler,
            }
        )
        return env

    def _handler(self, fn: Any) -> Any:
        module_name, _, attr = fn.handler.rpartition(".")
        key = fn.function_name
        # New configuration, new execution environment (as UpdateFunctionConfiguration gives in AWS): the
        # handler reads its settings at cold start.
        configuration = (key, tuple(sorted((fn.environment_vars or {}).items())))
        with self._import_lock:
            module = self._modules.get(configuration)
            if module is None:
                code_dir = self.code_dirs.get(key)
                if code_dir is None:
                    raise RuntimeError(f"no code registered for function {key}")
                path = code_dir / f"{module_name.replace('.', '/')}.py"
                spec = importlib.util.spec_from_file_location(f"handoff_fn_{key.replace('-', '_')}", path)
                if spec is None or spec.loader is None:
                    raise RuntimeError(f"cannot load {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                for name, (value, replaced) in self._replaced.get(key, {}).items():
                    replaced.append((module, getattr(module, name)))
                    setattr(module, name, value)
                self._modules[configuration] = module
        return getattr(module, attr)

    def invoke(self, fn: Any, event: Any) -> tuple[str, bool, str]:
        """Runs one invocation: (payload JSON, errored, log text), as moto's Docker runner returns."""
        started = time.monotonic()
        context = LambdaContext(
            function_name=fn.function_name,
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            timeout_seconds=int(fn.timeout),
        )
        error: str | None = None
        held = self._held.get(fn.function_name)
        if held is not None:
            held.wait(timeout=120)
        fault = self._faults.get(fn.function_name)
        with function_environment(self.environment_for(fn)):
            try:
                if fault:
                    error_type, message = fault.pop(0)
                    raise type(error_type, (Exception,), {})(message)
                if isinstance(event, str | bytes):
                    event = json.loads(event or "{}")
                result = self._handler(fn)(event, context)
                payload, errored = json.dumps(result, default=str), False
            except Exception as exc:  # a handler exception is a Lambda function error, never a crash here
                error = type(exc).__name__
                payload = json.dumps(
                    {
                        "errorType": error,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_exception(exc)[-5:],
                    }
                )
                errored = True
        self.invocations.append(Invocation(fn.function_name, started, time.monotonic() - started, error, payload))
        _drop_metrics()
        return payload, errored, ""


def _drop_metrics() -> None:
    """Metrics are off here (no CloudWatch), so Powertools never flushes them; drop what a handler added,
    as each Lambda invocation's flush would, instead of letting them pile up in this shared process."""
    observability = sys.modules.get("ecs_handoff.observability")
    if observability is not None:
        observability.metrics.clear_metrics()
