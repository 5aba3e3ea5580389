"""#1 Lambda: an invocation runs the real handler in this process (runner.FunctionRunner), not in Docker.
#13 Lambda concurrency: reserved concurrency must leave at least 100 unreserved executions under the account's
quota ("Lambda concurrency": "Lambda always reserves 100 units of concurrency for functions that don't
explicitly reserve concurrency"), checked when a function is created, so a stack that would reserve too much
fails to create as in AWS (moto checks only PutFunctionConcurrency, and only with an environment variable)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ecs_handoff_embedded.gaps.patching import Undo, replace
from ecs_handoff_embedded.runner import FunctionRunner


def install_lambda_runner(runner: FunctionRunner) -> Undo:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return runner.invoke(self, event if event is not None else {})

    return replace(LambdaFunction, "_invoke_lambda", _invoke_lambda)


UNRESERVED_MINIMUM = 100


def install_concurrency_quota(quota: Callable[[], int]) -> Undo:
    """CreateFunction (and so CloudFormation) refuses a ReservedConcurrentExecutions that would leave fewer than
    100 unreserved executions under `quota()`, with Lambda's own message."""
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.create_function

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        wanted = int(spec.get("ReservedConcurrentExecutions") or 0)
        if wanted:
            reserved = sum(int(f.reserved_concurrency or 0) for f in self.list_functions())
            if quota() - reserved - wanted < UNRESERVED_MINIMUM:
                raise InvalidParameterValueException(
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
                )
        return original(self, spec)

    return replace(LambdaBackend, "create_function", create_function)
