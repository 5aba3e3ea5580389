"""The CLI as an operator installs it: a wheel of this tree in a clean virtualenv brings `handoff` with only what
the command needs, and `handoff local up` prints commands that work when pasted."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the wheel is built from: the project file, the readme it names, and the three packages it lists.
SOURCES = (
    "pyproject.toml",
    "README.md",
    "layers/shared/ecs_handoff",
    "embedded/ecs_handoff_embedded",
    "cli/ecs_handoff_cli",
)
NOT_FOR_OPERATORS = ("moto", "samtranslator", "policy_sentry", "pytest")  # the `local` and `dev` extras


def run(*command: str | Path, timeout: float = 60, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]  # kwargs: env or cwd
        [str(c) for c in command], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


@pytest.mark.slow
def test_cli_wheel_installs_handoff_with_only_what_the_cli_needs(tmp_path: Path) -> None:
    # GIVEN a copy of this tree's sources (the build writes its build/ and egg-info beside them, not into the
    # shared working tree)
    source = tmp_path / "handoff"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    # WHEN it is built into a wheel as README says, and the wheel installed into a clean virtualenv
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path / "dist", source, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    # (a build that warns of a deprecated setting stops building when setuptools drops it)
    assert "deprecated" not in (built.stdout + built.stderr).lower(), built.stdout + built.stderr
    [wheel] = (tmp_path / "dist").glob("ecs_handoff-*.whl")
    venv = tmp_path / "venv"
    created = run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    installed = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel, timeout=180)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # THEN its handoff runs from the virtualenv's bin, as pipx puts it on PATH
    handoff = venv / "bin" / "handoff"
    version = run(handoff, "--version")
    assert version.returncode == 0, version.stderr
    assert re.fullmatch(r"handoff \d+\.\d+\.\d+\n", version.stdout), version.stdout
    helped = run(handoff, "--help")
    assert helped.returncode == 0 and helped.stdout.startswith("usage: handoff"), helped.stdout + helped.stderr
    # AND nothing of the embedded AWS or the tests came with it
    found = run(
        venv / "bin" / "python",
        "-c",
        "import importlib.util, sys; print(' '.join(n for n in sys.argv[1:] if importlib.util.find_spec(n)))",
        *NOT_FOR_OPERATORS,
    )
    assert found.returncode == 0 and found.stdout.strip() == "", found.stdout + found.stderr
    # AND `handoff local up` there says what it needs instead of failing on an import
    local = run(handoff, "local", "up", cwd=tmp_path)
    assert local.returncode == 2 and "not installed" in local.stderr, local.stderr


def test_readme_says_how_to_install_the_cli() -> None:
    # the commands the test above runs, as README gives them
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Install the CLI\n", 1)[-1].split("\n## ", 1)[0]
    assert "pipx install ./handoff" in section
    assert "python -m pip wheel --no-deps -w dist ./handoff" in section
    assert "python -m pip install dist/ecs_handoff-*.whl" in section


def test_local_up_names_the_handoff_that_works_when_pasted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ecs_handoff_embedded.local import handoff_command

    here = Path(sys.executable).parent / "handoff"
    assert importlib.util.find_spec("ecs_handoff_cli") is not None and here.exists()
    # GIVEN a shell whose PATH does not lead to this virtualenv (not activated: `make local`)
    monkeypatch.setenv("PATH", str(tmp_path))
    command = handoff_command()
    # THEN the printed command is this virtualenv's handoff, and it runs as printed
    assert command == shlex.quote(str(here))
    ran = run(*shlex.split(command), "--version", env={**os.environ, "PATH": str(tmp_path)})
    assert ran.returncode == 0, ran.stderr
    # AND where PATH finds that same handoff, it is just `handoff`
    monkeypatch.setenv("PATH", str(here.parent))
    assert handoff_command() == "handoff"
