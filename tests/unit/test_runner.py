"""The embedded Lambda runner: own environment per function, warm modules, errors as function errors."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ecs_handoff_embedded.runner import FunctionRunner

HANDLER = """
import os, time
IMPORTS = globals().get("IMPORTS", 0) + 1
def lambda_handler(event, context):
    event["barrier"].wait(5)
    seen = {k: os.environ.get(k) for k in ("WHO", "ONLY_A", "ONLY_B")}
    time.sleep(0.05)
    seen["again"] = os.environ.get("WHO")
    seen["imports"] = IMPORTS
    seen["name"] = context.function_name
    if event.get("fail"):
        raise ValueError("bad input")
    return seen
"""


def function(tmp_path: Path, name: str, variables: dict[str, str]) -> SimpleNamespace:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return SimpleNamespace(
        function_name=name,
        function_arn=f"arn:aws:lambda:ap-northeast-1:123456789012:function:{name}",
        memory_size=128,
        timeout=3,
        environment_vars=variables,
        region="ap-northeast-1",
        handler="app.lambda_handler",
        code=code,
    )


def test_runner_overlapping_invocations_see_only_their_own_environment(tmp_path: Path) -> None:
    # GIVEN two functions with different variables, invoked at the same moment in two threads
    runner = FunctionRunner({"PATH": os.environ.get("PATH", "")})
    a = function(tmp_path, "fn-a", {"WHO": "a", "ONLY_A": "1"})
    b = function(tmp_path, "fn-b", {"WHO": "b", "ONLY_B": "1"})
    for fn in (a, b):
        runner.register(fn.function_name, fn.code)
    barrier = threading.Barrier(2)
    results: dict[str, dict[str, Any]] = {}

    def call(fn: SimpleNamespace) -> None:
        payload, errored, _ = runner.invoke(fn, {"barrier": barrier})
        assert not errored, payload
        results[fn.function_name] = json.loads(payload)

    threads = [threading.Thread(target=call, args=(fn,)) for fn in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN neither saw the other's variables, even mid-invocation
    assert results["fn-a"] | {"imports": 0} == {
        "WHO": "a",
        "ONLY_A": "1",
        "ONLY_B": None,
        "again": "a",
        "imports": 0,
        "name": "fn-a",
    }
    assert results["fn-b"]["ONLY_A"] is None and results["fn-b"]["again"] == "b"
    # AND the process environment was never touched
    assert "ONLY_A" not in os.environ and "WHO" not in os.environ


def test_runner_imports_each_function_once_and_reuses_it(tmp_path: Path) -> None:
    runner = FunctionRunner({})
    fn = function(tmp_path, "fn-warm", {"WHO": "w"})
    runner.register(fn.function_name, fn.code)
    imports = [json.loads(runner.invoke(fn, {"barrier": threading.Barrier(1)})[0])["imports"] for _ in range(3)]
    assert imports == [1, 1, 1]


def test_runner_exception_becomes_function_error_with_type(tmp_path: Path) -> None:
    runner = FunctionRunner({})
    fn = function(tmp_path, "fn-err", {})
    runner.register(fn.function_name, fn.code)
    payload, errored, _ = runner.invoke(fn, {"barrier": threading.Barrier(1), "fail": True})
    assert errored and json.loads(payload)["errorType"] == "ValueError"
    assert json.loads(payload)["errorMessage"] == "bad input"


def test_runner_injected_failure_happens_once(tmp_path: Path) -> None:
    runner = FunctionRunner({})
    fn = function(tmp_path, "fn-flaky", {})
    runner.register(fn.function_name, fn.code)
    runner.inject_failure("fn-flaky", "TransientAwsError", "throttled")
    first, errored, _ = runner.invoke(fn, {"barrier": threading.Barrier(1)})
    assert errored and json.loads(first)["errorType"] == "TransientAwsError"
    assert not runner.invoke(fn, {"barrier": threading.Barrier(1)})[1]
