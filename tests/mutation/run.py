"""`make mutation`: how much the unit tests notice when the pure modules change (mutmut).

mutmut imports the mutated code from mutants/src, so the run happens in a scratch copy laid out as
src/ecs_handoff + tests/, with mutmut in a virtualenv of its own (.venv-mutation: mutmut's click
conflicts with aws-sam-cli's pin). The score per module counts only mutants that can change
behaviour: tests/mutation/equivalents.txt lists, with the reason, those that cannot, keyed by the code
they change (mutant_keys). What mutmut leaves alone (module constants, regexes, decorated functions such
as pydantic validators) is mutated by hand (HAND_MUTANTS).

    python tests/mutation/run.py [--keep] [--max-children N] [--survivors] [--only MODULE ...]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRATCH = ROOT / ".mutation"
MODULES = [
    "artifact.py",
    "taskdef.py",
    "approvals/links.py",
    "logic/finalize.py",
    "logic/approval_page.py",
    "windows.py",
    "logic/gate.py",
    "logic/rollout.py",
    "logic/lock.py",
    "models/registry.py",
    "logic/service_deployments.py",
    "promotion.py",
]
TESTS = [
    "test_artifact.py",
    "test_taskdef.py",
    "test_approval_links.py",
    "test_models.py",
    "test_approval_decision.py",
    "test_finalize.py",
    "test_pinned_values.py",
    "test_messages.py",
    "test_windows.py",
    "test_rollout_judge.py",
    "test_operator_overrides.py",
    "test_mutation_windows.py",
    "test_mutation_gate.py",
    "test_mutation_rollout.py",
    "test_mutation_rollout_strategies.py",
    "test_mutation_lock.py",
    "test_mutation_registry.py",
    "test_mutation_finalize.py",
    "test_mutation_approval_page.py",
    "test_mutation_finalize_traffic.py",
    "test_service_deployments.py",
    "test_approval_hook.py",
    "test_promotion.py",
    "test_mutation_service_deployments.py",
    "test_mutation_promotion.py",
]
TARGET = 0.90
# What mutmut does not mutate (module constants, regexes, crypto calls): (module, old, new, what), each
# applied alone to a copy of the layer and run against the unit tests. All must be killed, except
# those marked equivalent (the reason follows "equivalent:").
HAND_MUTANTS = [
    ("artifact.py", "MAX_IMAGE_REF = 255", "MAX_IMAGE_REF = 100", "reference limit 100"),
    ("artifact.py", "MAX_ZIP_BYTES = 1024 * 1024", "MAX_ZIP_BYTES = 1024 * 1024 - 1", "zip limit moved by one"),
    ("artifact.py", "MAX_JSON_BYTES = 100 * 1024", "MAX_JSON_BYTES = 100 * 1024 + 1", "JSON limit moved by one"),
    ("artifact.py", "MAX_ENTRIES = 10", "MAX_ENTRIES = 11", "entry limit moved by one"),
    ("artifact.py", "if len(data) > MAX_ZIP_BYTES:", "if len(data) >= MAX_ZIP_BYTES:", "zip > to >="),
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
    # mutmut leaves decorated functions alone: the registry's pydantic validators are mutated here.
    ("models/registry.py", "        windows.zone(self.time_zone)\n", "", "a window's time zone not checked"),
    ("models/registry.py", "windows.parse_hours(self.hours)", "None", "a window's hours not checked"),
    ("models/registry.py", "if self.deploy_windows and self.change_calendar:", "if False:",
     "windows and a calendar accepted together"),
    ("models/registry.py", "if self.bake_seconds and not self.blocking_alarms:", "if False:",
     "a bake without alarms accepted"),
    ("models/registry.py", '        _check_arn_patterns("override_principals", self.override_principals)\n', "",
     "override principals not checked"),
    ("models/registry.py", '        _check_arn_patterns("approver_principals", self.approver_principals)\n', "",
     "approver principals not checked"),
    ("models/registry.py", "if events > limits.HISTORY_BUDGET:", "if events >= limits.HISTORY_BUDGET:",
     "history budget > to >="),
    ("models/registry.py", "(self.max_gate_wait_seconds if self.has_release_gates else 0)",
     "(self.max_gate_wait_seconds)", "gate waits counted without release controls"),
    ("models/registry.py", "(self.bake_seconds if self.has_bake else 0) / self.gate_poll_seconds", "0",
     "the bake not counted"),
    ("models/registry.py", "return min(self.rollout_check_seconds, self.rollout_timeout_seconds)",
     "return self.rollout_check_seconds", "rollout checks longer than the timeout"),
    ("models/registry.py", "known = {a.lower() for a in self.approvers}", "known = set(self.approvers)",
     "approvers case-sensitive"),
    ("models/registry.py", "return bool(self.deploy_windows or self.change_calendar or self.blocking_alarms)",
     "return bool(self.deploy_windows or self.change_calendar)", "alarms are no release control"),
    ("models/registry.py", "(:[0-9]{1,5})?", "(:[0-9]+)?", "registry ports of any length"),
    ("models/registry.py", "[a-z0-9]([a-z0-9.-]*[a-z0-9])?", "[a-z0-9.-]+", "registry hosts ending in - or ."),
    ("models/registry.py", ' or any(c.isspace() for c in address):', ":", "approvers with spaces"),
    ("models/registry.py", 'if not principal.startswith("arn:"):', 'if "arn:" not in principal:',
     "ARNs not at the start"),
    ("models/registry.py", 'return self.approval_required and self.approval_stage is ApprovalStage.BEFORE_DEPLOY',
     'return self.approval_required', 'asked before deploy whatever the stage'),
    ("models/registry.py", "return self.approval_required and self.approval_stage is ApprovalStage.BEFORE_PROD",
     "return self.approval_stage is ApprovalStage.BEFORE_PROD", "asked at traffic unless required"),
    ("models/registry.py", 'default=ApprovalStage.BEFORE_DEPLOY,',
     'default=ApprovalStage.BEFORE_PRODUCTION_TRAFFIC,', 'approval stage defaults to production traffic'),
    ("models/registry.py", 'if not (self.url or self.header):',
     'if False:', 'test_traffic that says nothing accepted'),
    ("models/registry.py", 'pattern=r"^(https?://[^\\s]+)?$"',
     'pattern=r"^(.+)?$"', 'any test_traffic url'),
    ("models/registry.py", 'pattern=r"^([A-Za-z0-9-]+: ?[^\\r\\n]{1,150})?$"',
     'pattern=r"^(.+)?$"', 'any test_traffic header'),
    ("models/registry.py", '_ENV_NAME = r"^[a-z][a-z0-9-]{1,15}$"',
     '_ENV_NAME = r"^[A-Za-z][a-z0-9-]{0,15}$"', 'promotion source names of any case and length 1'),
    ("models/registry.py", ':[0-9]{12}:key/[A-Za-z0-9-]+$',
     ':[0-9]{12}:(key|alias)/[A-Za-z0-9-]+$', 'promotion key given as an alias'),
    ("models/registry.py", 'ge=0, le=30 * 86400',
     'ge=0, le=31 * 86400', 'soak over 30 days'),
    ("models/registry.py", 'ge=0, le=30 * 86400',
     'ge=-1, le=30 * 86400', 'negative soak'),
    ("models/registry.py", 'default=3600,\n        ge=60,',
     'default=7200,\n        ge=60,', 'statements kept two hours by default'),
    ("models/registry.py", 'ge=60,\n        le=7 * 86400,',
     'ge=59,\n        le=7 * 86400,', 'statement max age under a minute'),
    ("models/registry.py", 'ge=60,\n        le=7 * 86400,',
     'ge=60,\n        le=8 * 86400,', 'statement max age over a week'),
    ("models/registry.py", 'if not _PEM_PUBLIC_KEY.match(value):',
     'if False:', 'any promotion public key'),
    ("models/registry.py", '[A-Za-z0-9+/=\\n]{60,800}',
     '[A-Za-z0-9+/=\\n]{1,800}', 'a PEM body of a few characters'),
    ("models/registry.py", '-----END PUBLIC KEY-----\\n?$',
     '-----END PUBLIC KEY-----', 'text after the PEM'),
    # ECS's own strategies: the module's constants (mutmut leaves them alone).
    ("logic/service_deployments.py", 'frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})',
     'frozenset({"BLUE_GREEN", "CANARY"})', "LINEAR not followed"),
    ("logic/service_deployments.py", 'frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})',
     'frozenset({"BLUE_GREEN", "LINEAR"})', "CANARY not followed"),
    ("logic/service_deployments.py", 'frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})',
     'frozenset({"LINEAR", "CANARY"})', "BLUE_GREEN not followed"),
    ("logic/service_deployments.py", 'APPROVAL_HOOK_STAGE = "POST_TEST_TRAFFIC_SHIFT"',
     'APPROVAL_HOOK_STAGE = "PRE_PRODUCTION_TRAFFIC_SHIFT"', "approvers asked at every traffic step"),
    ("logic/service_deployments.py", '{"PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", ',
     '{"POST_PRODUCTION_TRAFFIC_SHIFT", ', "production traffic shifting not past the hook"),
    ("logic/service_deployments.py", '"POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", ', '"BAKE_TIME", ',
     "after the production shift not past the hook"),
    ("logic/service_deployments.py", '"BAKE_TIME", "CLEAN_UP"})', '"CLEAN_UP"})', "the bake not past the hook"),
    ("logic/service_deployments.py", '"BAKE_TIME", "CLEAN_UP"})', '"BAKE_TIME"})', "the clean-up not past the hook"),
    ("logic/service_deployments.py", '"BAKE_TIME", "CLEAN_UP"})', '"BAKE_TIME", "CLEAN_UP", "TEST_TRAFFIC_SHIFT"})',
     "test traffic shifting past the hook"),
    ("logic/service_deployments.py", 'SUCCEEDED_STATUSES = frozenset({"SUCCESSFUL"})',
     "SUCCEEDED_STATUSES = frozenset()", "SUCCESSFUL not a success"),
    ("logic/service_deployments.py", '{"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"}',
     '{"ROLLBACK_FAILED", "STOPPED"}', "a rollback not a failure"),
    ("logic/service_deployments.py", '{"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"}',
     '{"ROLLBACK_SUCCESSFUL", "STOPPED"}', "a failed rollback not a failure"),
    ("logic/service_deployments.py", '{"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"}',
     '{"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"}', "a stopped deployment not a failure"),
    ("logic/service_deployments.py", '{"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"}',
     '{"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED", "ROLLBACK_IN_PROGRESS"}', "rolling back already a failure"),
    ("logic/service_deployments.py", "PAUSE_TIMEOUT_DEFAULT_MINUTES = 1440", "PAUSE_TIMEOUT_DEFAULT_MINUTES = 1441",
     "default hook timeout a minute longer"),
    ("logic/service_deployments.py", "PAUSE_TIMEOUT_DEFAULT_MINUTES = 1440", "PAUSE_TIMEOUT_DEFAULT_MINUTES = 1439",
     "default hook timeout a minute shorter"),
    ("logic/service_deployments.py", "LISTING_SKEW = dt.timedelta(minutes=5)", "LISTING_SKEW = dt.timedelta(minutes=6)",
     "deployments listed from a minute earlier"),
    ("logic/service_deployments.py", "LISTING_SKEW = dt.timedelta(minutes=5)", "LISTING_SKEW = dt.timedelta(0)",
     "no margin for clock skew"),
    # Promotion evidence: the types it names, its limits, and the predicate's pydantic constraints.
    ("promotion.py", 'PAYLOAD_TYPE = "application/vnd.in-toto+json"', 'PAYLOAD_TYPE = "application/json"',
     "another DSSE payload type"),
    ("promotion.py", 'STATEMENT_TYPE = "https://in-toto.io/Statement/v1"',
     'STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"', "in-toto Statement v0.1"),
    ("promotion.py", 'PREDICATE_TYPE = "https://github.com/ecs-handoff/handoff/promotion/v1"',
     'PREDICATE_TYPE = "https://github.com/ecs-handoff/handoff/promotion/v2"', "another predicate type"),
    ("promotion.py", 'SIGNING_ALGORITHM: Final = "ECDSA_SHA_256"', 'SIGNING_ALGORITHM: Final = "ECDSA_SHA_384"',
     "KMS signs with SHA-384"),
    ("promotion.py", "MAX_SIGNED_BYTES = 4096", "MAX_SIGNED_BYTES = 4097", "KMS message limit moved by one"),
    ("promotion.py", "MAX_ENVELOPE_BYTES = 16 * 1024", "MAX_ENVELOPE_BYTES = 16 * 1024 + 1",
     "evidence limit moved by one"),
    ("promotion.py", 'EVIDENCE_MEMBER = "promotion.dsse.json"', 'EVIDENCE_MEMBER = "promotion.json"',
     "another evidence member name"),
    ("promotion.py", "MAX_CLOCK_SKEW_SECONDS = 300", "MAX_CLOCK_SKEW_SECONDS = 301", "clock skew a second longer"),
    ("promotion.py", "MAX_CLOCK_SKEW_SECONDS = 300", "MAX_CLOCK_SKEW_SECONDS = 299", "clock skew a second shorter"),
    ("promotion.py", "soaked_seconds: int = Field(ge=0)", "soaked_seconds: int = Field(ge=-1)", "a negative soak"),
    ("promotion.py", "Field(min_length=1, max_length=10)", "Field(min_length=0, max_length=10)",
     "a predicate without images"),
    ("promotion.py", "Field(min_length=1, max_length=10)", "Field(min_length=1, max_length=11)",
     "a predicate of eleven images"),
]  # fmt: skip
# The unit tests that read each module with hand-written mutants (collecting all of TESTS for each one
# would take most of the run).
HAND_TESTS = {
    "artifact.py": ["test_artifact.py", "test_pinned_values.py"],
    "taskdef.py": ["test_taskdef.py", "test_pinned_values.py"],
    "approvals/links.py": ["test_approval_links.py", "test_approval_decision.py", "test_pinned_values.py"],
    "logic/finalize.py": ["test_finalize.py"],
    "models/registry.py": ["test_mutation_registry.py", "test_models.py"],
    "logic/service_deployments.py": [
        "test_mutation_service_deployments.py",
        "test_service_deployments.py",
        "test_approval_hook.py",
    ],
    "promotion.py": ["test_mutation_promotion.py", "test_promotion.py"],
}
KILLED, SURVIVED = {1, 3}, {0}  # mutmut's exit codes: 1 a test failed, 3 a test timed out (killed)


def equivalents() -> dict[str, str]:
    """Mutant key -> why it cannot change behaviour (from equivalents.txt: `key  # reason`)."""
    found: dict[str, str] = {}
    for line in (ROOT / "tests" / "mutation" / "equivalents.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, reason = line.rpartition("  # ")
            found[key.strip()] = reason.strip()
    return found


def mutant_keys(module: str) -> dict[str, str]:
    """mutmut's name of each mutant of a module -> what it changes, as `module function: old => new` (the
    changed lines, stripped; ` / ` between several). mutmut numbers mutants by position, so a number moves
    whenever code is added above it; this key moves only when the mutated line itself changes. The nth
    identical change in one function gets ` [n]`."""
    path = SCRATCH / "mutants" / "src" / "ecs_handoff" / module
    source = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = source.splitlines()
    functions = {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name
    }
    keys: dict[str, str] = {}
    seen: Counter[str] = Counter()
    for name, code in functions.items():
        mangled, _, number = name.partition("__mutmut_")
        original = functions.get(f"{mangled}__mutmut_orig")
        if number == "orig" or original is None:
            continue
        before, after = original.splitlines()[1:], code.splitlines()[1:]  # the def lines differ by name
        diff = list(difflib.ndiff(before, after))
        old = " / ".join(line[2:].strip() for line in diff if line.startswith("- "))
        new = " / ".join(line[2:].strip() for line in diff if line.startswith("+ "))
        function = mangled.removeprefix("x_").replace("x\u01c1", "", 1).replace("\u01c1", ".")
        key = f"{module} {function}: {old} => {new}"
        seen[key] += 1
        keys[f"{module_name(module)}.{name}"] = key if seen[key] == 1 else f"{key} [{seen[key]}]"
    return keys


def module_name(module: str) -> str:
    return "ecs_handoff." + module.removesuffix(".py").replace("/", ".")


def prepare() -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)
    (SCRATCH / "tests" / "unit").mkdir(parents=True)
    shutil.copytree(ROOT / "layers" / "shared" / "ecs_handoff", SCRATCH / "src" / "ecs_handoff")
    for name in ("__init__.py", "helpers.py", "samples.py"):
        shutil.copy(ROOT / "tests" / name, SCRATCH / "tests" / name)
    (SCRATCH / "tests" / "unit" / "__init__.py").write_text("")
    for test in TESTS:
        shutil.copy(ROOT / "tests" / "unit" / test, SCRATCH / "tests" / "unit" / test)
    for shared in (ROOT / "tests" / "unit").glob("*.py"):  # the unit tests' helper modules (approval_desk.py)
        if not shared.name.startswith(("test_", "__init__")):
            shutil.copy(shared, SCRATCH / "tests" / "unit" / shared.name)
    only = "\n    ".join(f"src/ecs_handoff/{m}" for m in MODULES)
    tests = "\n    ".join(f"tests/unit/{t}" for t in TESTS)
    (SCRATCH / "setup.cfg").write_text(
        f"[mutmut]\nsource_paths = src/ecs_handoff\nonly_mutate =\n    {only}\n"
        f"pytest_add_cli_args_test_selection =\n    {tests}\n"
        "pytest_add_cli_args = -p no:cacheprovider -q\n",
        encoding="utf-8",
    )
    (SCRATCH / "pytest.ini").write_text("[pytest]\nfilterwarnings = ignore::UserWarning\n", encoding="utf-8")


def scores(modules: list[str]) -> tuple[dict[str, Counter[str]], list[str]]:
    """Per module: killed, survived, equivalent, other, and `survivor:<key>  (<mutmut name>)` for each
    survivor; and the entries of equivalents.txt that name no mutant any more (stale)."""
    known = equivalents()
    used: set[str] = set()
    per_module: dict[str, Counter[str]] = {m: Counter() for m in modules}
    for module in modules:
        meta = SCRATCH / "mutants" / "src" / "ecs_handoff" / f"{module}.meta"
        data = json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {"exit_code_by_key": {}}
        keys = mutant_keys(module)
        for name, code in data["exit_code_by_key"].items():
            key = keys.get(name, name)
            if key in known:
                used.add(key)
                per_module[module]["equivalent"] += 1
            elif code in KILLED:
                per_module[module]["killed"] += 1
            elif code in SURVIVED:
                per_module[module]["survived"] += 1
                per_module[module][f"survivor:{key}  ({name})"] += 1
            else:
                per_module[module]["other"] += 1  # not run, or a crash of the harness itself
    stale = sorted(k for k in known if k not in used and k.split(" ", 1)[0] in modules)
    return per_module, stale


def hand_mutant(index: int, module: str, old: str, new: str) -> bool | None:
    """Whether the unit tests of `module` fail with this one change in a copy of the layer (None: `old` is
    no longer in the module)."""
    copy = SCRATCH / f"hand-{index}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(ROOT / "layers" / "shared" / "ecs_handoff", copy / "ecs_handoff")
    path = copy / "ecs_handoff" / module
    text = path.read_text(encoding="utf-8")
    if old not in text:
        return None
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    tests = [str(ROOT / "tests" / "unit" / t) for t in HAND_TESTS[module]]
    done = subprocess.run(  # a fixed command
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True,
        check=False,
    )
    return done.returncode != 0


def hand_mutants(modules: list[str], workers: int) -> list[str]:
    """Each hand-written mutant alone against its module's unit tests, `workers` at a time; returns those
    that survived unexpectedly (or went stale)."""
    chosen = [m for m in HAND_MUTANTS if m[0] in modules]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda im: hand_mutant(im[0], *im[1][:3]), enumerate(chosen)))
    unexpected = []
    print("\nhand-written mutants (what mutmut does not touch)")
    for (module, old, _, what), killed in zip(chosen, results, strict=True):
        if killed is None:
            print(f"  STALE     {what}: {old!r} is no longer in {module}")
            unexpected.append(what)
            continue
        print(f"  {'killed   ' if killed else 'survived '} {what}")
        if not killed and not what.startswith("equivalent:"):
            unexpected.append(what)
    return unexpected


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse .mutation/ (results of an earlier run)")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutants (default: 2, the cores)")
    parser.add_argument("--survivors", action="store_true", help="list each surviving mutant")
    parser.add_argument("--only", action="append", choices=MODULES, help="mutate only this module (repeatable)")
    args = parser.parse_args()
    modules = args.only or MODULES
    started = time.monotonic()
    if not args.keep:
        prepare()
    mutmut = Path(sys.executable).with_name("mutmut")
    done = subprocess.run(  # a fixed command
        [
            str(mutmut),
            "run",
            "--max-children",
            str(args.max_children),
            *(f"{module_name(m)}.*" for m in args.only or ()),
        ],
        cwd=SCRATCH,
        check=False,
    )
    if done.returncode not in (0, 1):
        print(f"mutmut run failed (exit {done.returncode})", file=sys.stderr)
        return 2
    per_module, stale = scores(modules)
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
    for key in stale:
        print(f"  STALE     equivalents.txt names no mutant of the current code: {key}")
    survivors = hand_mutants(modules, args.max_children)
    if survivors:
        print(f"hand-written mutants not killed: {', '.join(survivors)}")
    return 1 if below or survivors or stale else 0


if __name__ == "__main__":
    sys.exit(main())
