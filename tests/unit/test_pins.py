"""One truth for what the functions run: every package the Lambda layer pins is the version the tests
run with, and pyproject.toml pins the same (a layer that drifted from the tested versions would ship
code no test ran)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

from tests.helpers import ROOT


def layer_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "layers" / "shared" / "requirements.txt").read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_the_layer_pins_what_the_tests_run_with() -> None:
    pins = layer_pins()
    assert {"aws-lambda-powertools", "pydantic", "boto3", "botocore"} <= set(pins)
    assert {name: version(name) for name in pins} == pins


def test_pyproject_pins_the_layers_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for name, pinned in layer_pins().items():
        assert f"{name}=={pinned}" in declared, f"pyproject.toml does not pin {name}=={pinned}"
