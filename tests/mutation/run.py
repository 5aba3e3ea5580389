"""`make mutation`: how much the unit tests notice when the pure modules change (mutmut).

mutmut imports the mutated code from mutants/src, so the run happens in a scratch copy laid out as
src/ecs_handoff + tests/, with mutmut in a virtualenv of its own (.venv-mutation: mutmut's click
conflicts with aws-sam-cli's pin). The score per module counts only mutants that can change
behaviour: tests/mutation/equivalents.txt lists, with the reason, those that cannot.

    python tests/mutation/run.py [--keep] [--max-children N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = ROOT / ".mutation"
MODULES = [
    "artifact.py",
    "taskdef.py",
    "approvals/links.py",
    "logic/finalize.py",
    "logic/approval_page.py",
]
TESTS = [
    "test_artifact.py",
    "test_taskdef.py",
    "test_approval_links.py",
    "test_models.py",
    "test_approval_decision.py",
    "test_finalize.py",
    "test_pinned_values.py",
]
TARGET = 0.90
# What mutmut does not mutate (module constants, regexes, crypto calls): (module, old, new, what), each
# applied alone to a copy of the layer and run against the unit tests. All must be killed, except
# those marked equivalent (the reason follows "equivalent:").
HAND_MUTANTS = [
    ("artifact.py", "raw = stream.read(MAX_JSON_BYTES + 1)", "raw = stream.read()", "unbounded decompression"),
    ("artifact.py", "MAX_IMAGE_REF = 255", "MAX_IMAGE_REF = 100", "reference limit 100"),
    ("artifact.py", "MAX_ZIP_BYTES = 1024 * 1024", "MAX_ZIP_BYTES = 1024 * 1024 - 1", "zip limit moved by one"),
    ("artifact.py", "MAX_JSON_BYTES = 100 * 1024", "MAX_JSON_BYTES = 100 * 1024 + 1", "JSON limit moved by one"),
    ("artifact.py", "MAX_ENTRIES = 10", "MAX_ENTRIES = 11", "entry limit moved by one"),
    ("artifact.py", "if len(data) > MAX_ZIP_BYTES:", "if len(data) >= MAX_ZIP_BYTES:", "zip > to >="),
    ("artifact.py", "if len(raw) > MAX_JSON_BYTES:", "if len(raw) >= MAX_JSON_BYTES:", "JSON > to >="),
    ("artifact.py", "if len(data) > MAX_ENTRIES:", "if len(data) >= MAX_ENTRIES:", "entries > to >="),
    ("artifact.py", "if len(image) > MAX_IMAGE_REF:", "if len(image) >= MAX_IMAGE_REF:", "reference > to >="),
    ("artifact.py", ":[0-9a-fA-F]{32,})", ":[0-9a-fA-F]{1,})", "a digest of one hex character"),
    ("artifact.py", r"[\w][\w.-]{0,127}", r"[\w][\w.-]{0,128}", "129-character tags"),
    ("artifact.py", "(?:(?:[._]|__|[-]+)[a-z0-9]+)*)", r"(?:(?:[._]|__|[-]+|\.\.)[a-z0-9]*)*)", "'..' in a path"),
    ("artifact.py", r'_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")',
     r'_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")', "looser container names"),
    ("taskdef.py", '    "registeredAt",\n', "", "registeredAt not read-only"),
    ("taskdef.py", "MAX_TAGS = 50", "MAX_TAGS = 51", "tag limit moved by one"),
    ("taskdef.py", 'if not t["key"].startswith("handoff:")', 'if t["key"] != TAG_DEPLOYMENT_ID',
     "only the deployment-id tag stripped"),
    ("approvals/links.py", "hashlib.sha256", "hashlib.sha1", "HMAC with SHA-1"),
    ("approvals/links.py", "base64.urlsafe_b64encode(digest)", "base64.urlsafe_b64encode(digest[:6])",
     "signature cut to 6 bytes"),
    ("approvals/links.py", '("handoff-approval-v1", ', "(", "no version tag"),
    ("approvals/links.py", "self.approver.lower()", "self.approver", "approver case matters"),
    ("approvals/links.py", "return (now if now is not None else time.time()) >= claims.expires",
     "return time.time() >= claims.expires", "expiry ignores its clock"),
    ("approvals/links.py", ">= claims.expires", "> claims.expires", "expiry a second late"),
    ("approvals/links.py", 'hmac.compare_digest(sign(key, claims).encode(), (signature or "").encode())',
     'sign(key, claims) == (signature or "")',
     "equivalent: == instead of compare_digest changes timing only (a side channel), not any result"),
    ("logic/finalize.py", "        _close_open_approval(approvals, record.approval_id, result, now)", "        pass",
     "finalize leaves the approval open"),
]  # fmt: skip
KILLED, SURVIVED = {1, 3}, {0}  # mutmut's exit codes: 1 a test failed, 3 a test timed out (killed)


def equivalents() -> dict[str, str]:
    """Mutant name -> why it cannot change behaviour (from equivalents.txt: `name  # reason`)."""
    found: dict[str, str] = {}
    for line in (ROOT / "tests" / "mutation" / "equivalents.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("#")
            found[name.strip()] = reason.strip()
    return found


def prepare() -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    (SCRATCH / "tests" / "unit").mkdir(parents=True)
    shutil.copytree(ROOT / "layers" / "shared" / "ecs_handoff", SCRATCH / "src" / "ecs_handoff")
    for name in ("__init__.py", "helpers.py", "samples.py"):
        shutil.copy(ROOT / "tests" / name, SCRATCH / "tests" / name)
    (SCRATCH / "tests" / "unit" / "__init__.py").write_text("")
    for test in TESTS:
        shutil.copy(ROOT / "tests" / "unit" / test, SCRATCH / "tests" / "unit" / test)
    only = "\n    ".join(f"src/ecs_handoff/{m}" for m in MODULES)
    tests = "\n    ".join(f"tests/unit/{t}" for t in TESTS)
    (SCRATCH / "setup.cfg").write_text(
        f"[mutmut]\nsource_paths = src/ecs_handoff\nonly_mutate =\n    {only}\n"
        f"pytest_add_cli_args_test_selection =\n    {tests}\n"
        "pytest_add_cli_args = -p no:cacheprovider -q\n",
        encoding="utf-8",
    )
    (SCRATCH / "pytest.ini").write_text("[pytest]\nfilterwarnings = ignore::UserWarning\n", encoding="utf-8")


def scores() -> dict[str, Counter[str]]:
    known = equivalents()
    per_module: dict[str, Counter[str]] = {m: Counter() for m in MODULES}
    for module in MODULES:
        meta = SCRATCH / "mutants" / "src" / "ecs_handoff" / f"{module}.meta"
        data = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {"exit_code_by_key": {}}
        for name, code in data["exit_code_by_key"].items():
            if name in known:
                per_module[module]["equivalent"] += 1
            elif code in KILLED:
                per_module[module]["killed"] += 1
            elif code in SURVIVED:
                per_module[module]["survived"] += 1
                per_module[module]["survivor:" + name] += 1
            else:
                per_module[module]["other"] += 1  # not run, or a crash of the harness itself
    return per_module


def hand_mutants() -> list[str]:
    """Each hand-written mutant alone against the unit tests; returns those that survived unexpectedly."""
    tests = [str(ROOT / "tests" / "unit" / t) for t in TESTS]
    unexpected = []
    print("\nhand-written mutants (what mutmut does not touch)")
    for module, old, new, what in HAND_MUTANTS:
        copy = SCRATCH / "hand"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(ROOT / "layers" / "shared" / "ecs_handoff", copy / "ecs_handoff")
        path = copy / "ecs_handoff" / module
        text = path.read_text(encoding="utf-8")
        if old not in text:
            print(f"  STALE     {what}: {old!r} is no longer in {module}")
            unexpected.append(what)
            continue
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        done = subprocess.run(  # a fixed command
            [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            check=False,
        )
        killed = done.returncode != 0
        equivalent = what.startswith("equivalent:")
        print(f"  {'killed   ' if killed else 'survived '} {what}")
        if not killed and not equivalent:
            unexpected.append(what)
    return unexpected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse .mutation/ (results of an earlier run)")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutants (default: 2, the cores)")
    parser.add_argument("--survivors", action="store_true", help="list each surviving mutant")
    args = parser.parse_args()
    started = time.monotonic()
    if not args.keep:
        prepare()
    mutmut = Path(sys.executable).with_name("mutmut")
    done = subprocess.run(  # a fixed command
        [str(mutmut), "run", "--max-children", str(args.max_children)], cwd=SCRATCH, check=False
    )
    if done.returncode not in (0, 1):
        print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
        return 2
    per_module = scores()
    print(f"\nmutation score per module (unit tests only; {time.monotonic() - started:.0f} s)")
    print(f"{'module':<30} {'killed':>7} {'survived':>9} {'equivalent':>11} {'score':>7}")
    below = []
    for module, c in per_module.items():
        counted = c["killed"] + c["survived"] + c["other"]
        score = c["killed"] / counted if counted else 1.0
        print(f"{module:<30} {c['killed']:>7} {c['survived']:>9} {c['equivalent']:>11} {score:>7.1%}")
        if score < TARGET:
            below.append(module)
        if args.survivors:
            for key in sorted(k for k in c if k.startswith("survivor:")):
                print(f"    survived: {key.removeprefix('survivor:')}")
    if below:
        print(f"below {TARGET:.0%}: {', '.join(below)} (`mutmut show <name>` in .mutation/ shows a mutant)")
    survivors = hand_mutants()
    if survivors:
        print(f"hand-written mutants not killed: {', '.join(survivors)}")
    return 1 if below or survivors else 0


if __name__ == "__main__":
    sys.exit(main())
