"""#1 Lambda: an invocation runs the real handler in this process (runner.FunctionRunner), not in Docker."""

from __future__ import annotations

from typing import Any

from ecs_handoff_embedded.gaps.patching import Undo, replace
from ecs_handoff_embedded.runner import FunctionRunner


def install_lambda_runner(runner: FunctionRunner) -> Undo:
    from moto.awslambda.models import LambdaFunction

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        return runner.invoke(self, event if event is not None else {})

    return replace(LambdaFunction, "_invoke_lambda", _invoke_lambda)
