"""Each function's settings model against its template.yaml entry: the function starts with exactly the
variables the template gives it, reads every one of them, and a forgotten or misspelt one stops it at
cold start naming the variable (instead of quietly turning a feature off)."""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

import pytest
from ecs_handoff.settings import FunctionSettings, IntakeSettings, variable
from ecs_handoff_embedded.environ import function_environment
from ecs_handoff_embedded.provision import function_variables

from tests.helpers import ROOT

VARIABLES = function_variables(ROOT)
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").exists())


def cold_start(name: str, variables: dict[str, str]) -> ModuleType:
    """Imports functions/<name>/app.py as Lambda's cold start would, seeing only these variables."""
    path = ROOT / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"settings_test_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    runtime = {k: v for k, v in os.environ.items() if not k.startswith("HANDOFF_")}
    with function_environment({**runtime, **variables}):
        spec.loader.exec_module(module)
    return module


def test_every_function_in_the_tree_is_in_the_template() -> None:
    assert sorted(VARIABLES) == FUNCTIONS


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_reads_exactly_the_variables_its_template_entry_sets(name: str) -> None:
    module = cold_start(name, VARIABLES[name])
    settings = module.settings
    assert isinstance(settings, FunctionSettings)
    read = {variable(field) for field in type(settings).model_fields}
    given = {k for k in VARIABLES[name] if k.startswith("HANDOFF_")}
    assert read == given, f"{name}: template sets {sorted(given - read)} unread; reads {sorted(read - given)} unset"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_function_without_one_of_its_variables_stops_at_cold_start_naming_it(name: str) -> None:
    for missing in (k for k in VARIABLES[name] if k.startswith("HANDOFF_")):
        variables = {k: v for k, v in VARIABLES[name].items() if k != missing}
        with pytest.raises(RuntimeError, match=rf"^{missing} is not set for this function \(\w+Settings\); check"):
            cold_start(name, variables)


def test_a_misspelt_variable_is_named_as_missing_and_an_empty_one_as_empty() -> None:
    variables = dict(VARIABLES["intake"])
    variables["HANDOFF_TOPIC_ARM"] = variables.pop("HANDOFF_TOPIC_ARN")
    variables["HANDOFF_BUCKET"] = ""
    with pytest.raises(RuntimeError) as refused:
        IntakeSettings.from_env(variables)
    assert str(refused.value) == (
        "HANDOFF_BUCKET is empty or invalid; HANDOFF_TOPIC_ARN is not set for this function (IntakeSettings); "
        "check template.yaml"
    )


def test_require_approval_reads_the_templates_true_and_false() -> None:
    base = dict(VARIABLES["intake"])
    assert IntakeSettings.from_env({**base, "HANDOFF_REQUIRE_APPROVAL": "true"}).require_approval is True
    assert IntakeSettings.from_env({**base, "HANDOFF_REQUIRE_APPROVAL": "false"}).require_approval is False
    with pytest.raises(RuntimeError, match="HANDOFF_REQUIRE_APPROVAL is empty or invalid"):
        IntakeSettings.from_env({**base, "HANDOFF_REQUIRE_APPROVAL": "maybe"})
