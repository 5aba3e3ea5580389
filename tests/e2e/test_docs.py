"""The docs cannot drift: docs/cli.md's session is what the commands print now, and every link in
README and docs/ points at a file in this repository (or a public web page)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.slow
def test_cli_md_session_is_what_the_commands_print_now() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HANDOFF_", "MOTO_"))}
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "cli_session.py"), "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_every_link_in_the_docs_stays_in_this_repository() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    outside = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if target.startswith(("https://", "http://", "#", "mailto:")) or target.startswith("?"):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(ROOT) or not path.exists():
                outside.append(f"{page.relative_to(ROOT)}: {target}")
    assert outside == []
