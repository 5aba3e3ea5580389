"""The state machine and the Python models held against each other: every path the ASL reads or writes,
every value a Choice compares, every payload a task sends and every error it names must exist on the
Python side, so renaming either side fails here instead of ending a deployment in a quiet FAILED."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
import typing
from collections.abc import Iterator
from enum import Enum
from typing import Any

import pytest
from ecs_handoff import errors, models
from ecs_handoff.aws.records import DeploymentRecords, RecordUpdate
from pydantic import BaseModel, ValidationError

from tests.helpers import ROOT

ASL = json.loads((ROOT / "statemachine" / "deployment.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = ASL["States"]

# What each Lambda task's payload is parsed as (functions/<name>/app.py).
TASK_INPUT: dict[str, type[BaseModel]] = {
    "AcquireLock": models.LockInput,
    "RequestApproval": models.ApprovalInput,
    "RequestTrafficApproval": models.ApprovalInput,  # the same function, at the PAUSE hook
    "ReleaseProductionTraffic": models.TrafficInput,
    "HoldProductionTraffic": models.TrafficInput,
    "Deploy": models.DeployInput,
    "WatchRollout": models.RolloutInput,
    "Rollback": models.StepInput,
    "Finalize": models.WorkflowState,  # no Parameters: the whole state
}
# Error names that are Step Functions' or Lambda's own, not handoff's exceptions.
AWS_ERROR_PREFIXES = ("States.", "Lambda.", "Sandbox.")


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation allows (Optional and unions opened, None dropped)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg) if t is not type(None)]
    return [annotation]


def resolve(path: str, model: type[BaseModel] = models.WorkflowState) -> list[Any]:
    """The types a JSONPath like $.request.service.poll_interval_seconds reaches through the models;
    fails naming the first part that no model has."""
    assert path.startswith("$."), path
    current: list[Any] = [model]
    for part in path[2:].split("."):
        reached: list[Any] = []
        for kind in current:
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                field = kind.model_fields.get(part) or next(
                    (f for f in kind.model_fields.values() if f.alias == part), None
                )
                if field is not None:
                    reached += _unwrap(field.annotation)
                elif isinstance(getattr(kind, part, None), property):  # computed into the workflow input
                    reached += _unwrap(typing.get_type_hints(getattr(kind, part).fget).get("return", Any))
            elif typing.get_origin(kind) is dict or kind is Any:
                reached.append(Any)
        assert reached, f"{path}: no model has {part!r} (looked in {current})"
        current = reached
    return current


def _choice_rules(state: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for rule in state.get("Choices", []):
        yield from (rule.get("And") or rule.get("Or") or [rule])


def _paths_read_and_written() -> Iterator[tuple[str, str]]:
    for name, state in STATES.items():
        for key in ("ResultPath", "InputPath", "OutputPath", "SecondsPath", "TimeoutSecondsPath"):
            if isinstance(state.get(key), str) and state[key] != "$":
                yield name, state[key]
        for catcher in state.get("Catch", []):
            yield name, catcher["ResultPath"]
        for value in _parameter_values(state.get("Parameters", {})):
            yield name, value
        for rule in _choice_rules(state):
            yield name, rule["Variable"]
            yield from ((name, v) for k, v in rule.items() if k.endswith("Path") and k != "Variable")


def _parameter_values(parameters: Any) -> Iterator[str]:
    if isinstance(parameters, dict):
        for key, value in parameters.items():
            if key.endswith(".$") and isinstance(value, str) and value.startswith("$.") and "(" not in value:
                yield value
            elif key.endswith(".$") and isinstance(value, str) and "(" in value:  # an intrinsic: its paths
                yield from (p.rstrip(",)") for p in value.replace("(", " ").split() if p.startswith("$."))
            else:
                yield from _parameter_values(value)


@pytest.mark.parametrize(("state", "path"), sorted(set(_paths_read_and_written())))
def test_every_path_the_asl_uses_exists_in_the_workflow_models(state: str, path: str) -> None:
    assert resolve(path), f"{state}: {path}"


def test_every_value_a_choice_compares_is_one_the_model_can_hold() -> None:
    for name, state in STATES.items():
        for rule in _choice_rules(state):
            kinds = resolve(rule["Variable"])
            for comparison in ("StringEquals",):
                if comparison not in rule:
                    continue
                enums = [k for k in kinds if isinstance(k, type) and issubclass(k, Enum)]
                for enum in enums:
                    assert rule[comparison] in {e.value for e in enum}, f"{name}: {rule[comparison]} not in {enum}"
            if "BooleanEquals" in rule:
                assert bool in kinds, f"{name}: {rule['Variable']} is not a boolean"
            if any(k.startswith("Numeric") for k in rule):
                assert int in kinds or float in kinds, f"{name}: {rule['Variable']} is not a number"


def test_every_task_payload_is_exactly_what_its_function_parses() -> None:
    for name, model in TASK_INPUT.items():
        state = STATES[name]
        parameters = state.get("Parameters")
        if parameters is None:
            continue
        payload = parameters.get("Payload", parameters)
        sent = {key.removesuffix(".$") for key in payload}
        known = set(model.model_fields)
        assert sent <= known, f"{name} sends {sorted(sent - known)}, which {model.__name__} does not read"
        required = {k for k, f in model.model_fields.items() if f.is_required()}
        assert required <= sent, f"{name} does not send {sorted(required - sent)}, which {model.__name__} needs"


def test_every_error_the_asl_names_is_an_exception_handoff_raises_or_one_of_aws() -> None:
    named = {
        error
        for state in STATES.values()
        for handler in (*state.get("Retry", []), *state.get("Catch", []))
        for error in handler["ErrorEquals"]
    }
    ours = {error for error in named if not error.startswith(AWS_ERROR_PREFIXES)}
    assert ours, "the ASL should retry handoff's own transient error"
    for error in ours:
        exception = getattr(errors, error, None)
        assert isinstance(exception, type) and issubclass(exception, errors.HandoffError), error


def test_every_result_path_the_workflow_writes_is_a_field_of_its_state() -> None:
    written = {
        path.split(".")[1]
        for state in STATES.values()
        for path in [state.get("ResultPath"), *(c["ResultPath"] for c in state.get("Catch", []))]
        if isinstance(path, str) and path.startswith("$.")
    }
    assert written <= set(models.WorkflowState.model_fields), sorted(written - set(models.WorkflowState.model_fields))


def _models_reachable(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[type[BaseModel]]:
    if model in seen:
        return seen
    seen.add(model)
    for field in model.model_fields.values():
        for kind in _unwrap(field.annotation):
            for inner in (kind, *typing.get_args(kind)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    _models_reachable(inner, seen)
    return seen


def test_every_model_the_workflow_passes_refuses_unknown_fields() -> None:
    reachable: set[type[BaseModel]] = set()
    roots: list[type[BaseModel]] = [models.WorkflowState, *TASK_INPUT.values(), models.GateInput]
    for model in roots:
        _models_reachable(model, reachable)
    lenient = sorted(m.__name__ for m in reachable if m.model_config.get("extra") != "forbid")
    assert not lenient, f"these workflow models ignore unknown fields: {lenient}"


def test_a_renamed_result_path_is_refused_naming_it_instead_of_read_as_absent() -> None:
    request = {
        "deployment_id": "api-v1",
        "env": "dev",
        "service_id": "api",
        "service": {"cluster": "c", "service": "s", "task_definition": "api"},
        "base_task_definition": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/api:1",
        "images": [],
        "source": {"bucket": "b", "key": "k", "object_version": "v", "sequencer": "1"},
        "requested_at": "2026-11-27T00:00:00.000Z",
    }
    state = models.WorkflowState.model_validate({"request": request, "rollout": {"state": "COMPLETED"}})
    assert state.rollout is not None  # the real name is read
    with pytest.raises(ValidationError, match=r"rollouts\n  Extra inputs are not permitted"):
        models.WorkflowState.model_validate({"request": request, "rollouts": {"state": "COMPLETED"}})
    # What the intake adds for the Choices is not a stray field.
    models.WorkflowState.model_validate({"request": {**request, "has_bake": False, "has_release_gates": True}})


def test_every_string_a_choice_compares_is_an_enum_member_not_a_free_string() -> None:
    for name, state in STATES.items():
        for rule in _choice_rules(state):
            if "StringEquals" in rule:
                kinds = resolve(rule["Variable"])
                assert any(isinstance(k, type) and issubclass(k, Enum) for k in kinds), (
                    f"{name}: {rule['Variable']} is a free string; make it an enum"
                )


def test_the_fields_steps_set_on_a_record_are_the_records_own() -> None:
    hints = typing.get_type_hints(RecordUpdate)
    record = models.DeploymentRecord.model_fields
    for name, hint in hints.items():
        assert name in record, f"RecordUpdate.{name} is not a DeploymentRecord field"
        allowed = set(_unwrap(record[name].annotation))
        assert set(_unwrap(hint)) <= allowed, f"{name}: {hint} is not {record[name].annotation}"


def test_a_record_update_with_a_field_the_record_does_not_have_is_refused() -> None:
    class Refusing(DeploymentRecords):
        def __init__(self) -> None:  # no table: the refusal comes before any call
            pass

    with pytest.raises(TypeError, match="not a field a step may set on a deployment record: phse"):
        Refusing().update("api-v1", **{"phse": "locked"})  # type: ignore[arg-type]


def test_a_fresh_process_stores_images_it_only_ever_read_nested_in_the_workflow_state() -> None:
    # In a Lambda, finalize's ImageChange objects come only from parsing the workflow state, so the class
    # has no serializer of its own yet (defer_build); the embedded AWS's shared process always had one.
    script = """
from ecs_handoff.aws.records import as_stored
from ecs_handoff.models import DeployResult
deploy = DeployResult.model_validate({"new_task_definition": "a", "previous_task_definition": "b",
    "ecs_deployment_id": "e", "deployed_at": "t", "images": [{"container": "app", "image_after": "x"}]})
print(as_stored({"images": deploy.images}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "shared")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(
        {"images": [{"container": "app", "image_before": None, "image_after": "x", "requested": None}]}
    )
