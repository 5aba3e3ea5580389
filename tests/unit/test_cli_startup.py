"""The CLI starts fast and stands alone: `handoff --help` loads no AWS library, and the CLI and the
embedded AWS depend one way only (the CLI uses the embedded AWS for `handoff local up`, never the reverse)."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.helpers import ROOT


def _imported_modules(package: str) -> dict[str, set[str]]:
    """Per file of a package folder, every module it imports (at the top or inside a function)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[path.relative_to(ROOT).as_posix()] = names
    return found


def test_cli_help_loads_neither_boto3_nor_pydantic_nor_the_embedded_aws() -> None:
    # GIVEN a fresh interpreter
    # WHEN it builds the parser and prints --help, as `handoff --help` does
    code = (
        "import contextlib, io, sys\n"
        "from ecs_handoff_cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'pydantic', 'moto',"
        " 'ecs_handoff_embedded'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    # THEN none of the heavy libraries was imported
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_embedded_aws_never_imports_the_cli() -> None:
    # GIVEN every module of the embedded AWS
    # WHEN their imports are read
    found = {
        path: sorted(m for m in modules if m.startswith("ecs_handoff_cli"))
        for path, modules in _imported_modules("embedded").items()
    }
    # THEN none names the CLI
    assert {path: modules for path, modules in found.items() if modules} == {}


def test_the_cli_imports_the_embedded_aws_only_for_local_up() -> None:
    # GIVEN every module of the CLI
    # WHEN their imports are read
    found = {
        path: sorted(m for m in modules if m.startswith(("ecs_handoff_embedded", "moto")))
        for path, modules in _imported_modules("cli").items()
    }
    # THEN only local.py (`handoff local up`) imports the embedded AWS, and nothing imports moto
    assert {path: modules for path, modules in found.items() if modules} == {
        "cli/ecs_handoff_cli/local.py": ["ecs_handoff_embedded.local"]
    }


def test_local_up_without_the_local_extra_says_what_to_install() -> None:
    # GIVEN a CLI installed without the `local` extra (moto cannot be imported)
    code = (
        "import sys\n"
        "sys.modules['moto'] = None\n"
        "from ecs_handoff_cli.main import main\n"
        "sys.exit(main(['local', 'up']))\n"
    )
    # WHEN `handoff local up` runs
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)
    # THEN it is a usage error that names the missing module and the extra to install
    assert done.returncode == 2, done.stderr
    assert "no module 'moto'" in done.stderr and "pip install 'ecs-handoff[local]'" in done.stderr
