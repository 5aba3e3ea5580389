"""docs/cli.md's sample session: the real `handoff` commands against a fresh embedded AWS, at 80 columns.

    python tools/cli_session.py --write   # `make cli-docs`: regenerate docs/cli.md's session
    python tools/cli_session.py --check   # the test: fail when docs/cli.md differs

What a run prints depends on the clock and on S3's random version ids, so --check compares the two
sessions with times, durations, ids and watch's progress lines (their number depends on timing) masked;
everything else, every column and every word, must be the same."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import os
import re
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecs_handoff_cli.main import main as handoff
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image
from ecs_handoff_embedded.seed import SAMPLE_IMAGES, bucket_name

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
START, END = "<!-- session: start (make cli-docs writes this part) -->", "<!-- session: end -->"
COLUMNS = 80


@dataclass
class Session:
    world: World
    folder: Path
    out: list[str]

    def handoff(self, *args: str, shown: str | None = None) -> int:
        """Runs `handoff args` in this process as a terminal user would (80 columns, no colour: the
        output is a pipe here), and records the prompt, everything printed, and the exit code."""
        self.out.append(f"$ handoff {shown or shlex.join(args)}")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                code = handoff(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = int(exc.code or 0)
        self.out += buffer.getvalue().rstrip("\n").splitlines()
        self.out += [f"[exit {code}]", ""]
        return code

    def note(self, text: str) -> None:
        self.out += [f"# {text}"]

    def file(self, name: str, images: dict[str, str], push: bool = True) -> str:
        """An imagedefinitions.json CI would produce (its images pushed to ECR first, as CI does)."""
        entries = [{"name": k, "imageUri": v} for k, v in images.items()]
        (self.folder / name).write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
        if push:
            self.world.push(artifact(images))
        return name

    def full(self, short: str, env: str) -> str:
        service = short.rsplit("-", 1)[0]
        return next(r.id for r in self.world.records(env).history(env, service, 5) if r.id.startswith(short))

    def last(self, env: str, service: str) -> str:
        """The short id of the deployment of the service's newest upload, as `history` shows it, once the
        intake has recorded it."""
        from ecs_handoff.models import execution_name

        bucket, key = bucket_name(env), f"{service}/imagedefinitions.json.zip"
        versions = self.world.s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
        newest = execution_name(service, next(v["VersionId"] for v in versions if v["IsLatest"]))
        deadline = time.monotonic() + 30
        while self.world.records(env).get(newest) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return f"{service}-{newest.removeprefix(service + '-')[:8]}"


def script(s: Session) -> None:
    api = dict(SAMPLE_IMAGES)
    s.handoff("diff", s.file("images.json", api), "--env", "dev", "--service", "api")
    s.handoff("upload", "images.json", "--env", "dev", "--service", "api", "--interval", "0.5")
    partial = s.file("images2.json", {"app-container": image("api", "dev-9b8c7d6")})
    s.handoff("upload", partial, "--env", "dev", "--service", "api", "--dry-run")
    s.handoff("upload", partial, "--env", "dev", "--service", "api", "--no-wait")
    s.handoff("watch", s.last("dev", "api"), "--env", "dev", "--interval", "0.5")
    s.handoff("status", "--env", "dev")
    s.handoff("rollback", "--env", "dev", "--service", "api", "--interval", "0.5")
    s.handoff("rerun", "--env", "dev", "--service", "api", "--interval", "0.5")
    s.handoff("upload", s.file("bad.json", {"nginx": image("nginx", "1.27")}), "--env", "dev", "--service", "api")
    s.handoff("upload", s.file("failing.json", {"app": image("worker", "fail-0c0ffee")}), "--env", "dev",
              "--service", "worker", "--interval", "0.5")  # fmt: skip
    s.handoff("history", "--env", "dev", "--limit", "8")
    s.handoff("history", "--env", "dev", "--service", "api", "--limit", "2", "--wide")
    s.handoff("watch", "api-typo1234", "--env", "dev")
    s.handoff("history", "--env", "dev", "--limit", "0")
    s.handoff("rollback", "--env", "prod", "--service", "worker")
    s.handoff("status", "--env", "dev", "--service", "billing")

    s.note("prod needs an approval; the one who uploads cannot give it")
    prod = s.file("prod.json", {"app-container": image("api", "prod-4f2a9c1")})
    s.handoff("upload", prod, "--env", "prod", "--service", "api", "--no-wait")
    s.world.wait_phase("prod", s.full(s.last("prod", "api"), "prod"), "awaiting_approval")
    s.handoff("approve", s.last("prod", "api"), "--env", "prod")
    s.handoff("reject", s.last("prod", "api"), "--env", "prod", "--comment", "CI will upload it")
    s.note("CI uploads the same build (aws s3 cp), someone else decides")
    s.world.wait_phase("prod", s.world.upload("prod", "api", artifact({"app-container": image("api", "prod-4f2a9c1")})),
                       "awaiting_approval")  # fmt: skip
    s.handoff("status", "--env", "prod")
    s.handoff("watch", s.last("prod", "api"), "--env", "prod", "--timeout", "2")
    s.handoff("approve", s.last("prod", "api"), "--env", "prod", "--comment", "hotfix INC-7")
    s.handoff("watch", s.last("prod", "api"), "--env", "prod", "--interval", "0.5")
    s.handoff("reject", s.last("prod", "api"), "--env", "prod")

    s.note("the prod bucket's versioning suspended by hand")
    s.world.s3.put_bucket_versioning(Bucket=bucket_name("prod"), VersioningConfiguration={"Status": "Suspended"})
    s.handoff("doctor", "--env", "prod")


def record(run: Callable[[Session], None] = script) -> str:
    """The session's text, from a fresh embedded AWS in a scratch folder."""
    state_dir = Path(tempfile.mkdtemp(prefix="handoff-cli-session-"))
    aws = EmbeddedAws(state_dir=state_dir / ".handoff", rollout_seconds=0.5)
    saved = {k: os.environ.get(k) for k in ("COLUMNS", "NO_COLOR")}
    os.environ.update(COLUMNS=str(COLUMNS), NO_COLOR="1")
    cwd = Path.cwd()
    with contextlib.redirect_stdout(io.StringIO()):
        aws.start()
    try:
        os.chdir(state_dir)
        session = Session(World(aws), state_dir, [])
        run(session)
        assert aws.wait_idle(60), "an event delivery was still running after the session"
        return "\n".join(session.out).rstrip("\n") + "\n"
    finally:
        os.chdir(cwd)
        aws.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


MASKS = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<version>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<approval>"),
    (re.compile(r"\b(api|worker)-[0-9a-f]{8}\b"), r"\1-<short>"),
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?Z?"), "<time>"),
    (re.compile(r"\b\d\d-\d\d \d\d:\d\d\b"), "<time>"),
    (re.compile(r"ecs-svc/\d+"), "ecs-svc/<n>"),
    (re.compile(r"\bhandoff-cli-session-\w+"), "<folder>"),
    # which came first is timing; a table pads the shorter word, so the spaces after it go too
    (re.compile(r"(\b(event|poll)\b|ECS's event|handoff's look) *"), "<verdict> "),
]
PROGRESS = re.compile(r"^\s*\d+\.\d+s  ")


def masked(text: str) -> list[str]:
    """The session without what changes from run to run (times, ids, watch's progress lines)."""
    lines = []
    for line in text.splitlines():
        if PROGRESS.match(line):
            continue
        for pattern, replacement in MASKS:
            line = pattern.sub(replacement, line)
        lines.append(line.rstrip())
    return lines


def session_in(doc: str) -> str:
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {START} ... {END} section")
    inside = doc.split(START, 1)[1].split(END, 1)[0]
    return inside.strip("\n").removeprefix("```").removesuffix("```").strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the session in docs/cli.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when docs/cli.md differs from a new session")
    args = parser.parse_args(argv)
    doc = DOC.read_text(encoding="utf-8")
    now = record()
    if args.write:
        before, rest = doc.split(START, 1)
        after = rest.split(END, 1)[1]
        DOC.write_text(f"{before}{START}\n```\n{now}```\n{END}{after}", encoding="utf-8")
        print(f"wrote the session into {DOC}")
        return 0
    difference = list(
        difflib.unified_diff(masked(session_in(doc)), masked(now), "docs/cli.md", "a new session", lineterm="")
    )
    if difference:
        print("\n".join(difference))
        print("docs/cli.md's session differs from what the commands print now: run `make cli-docs`", file=sys.stderr)
        return 1
    print("docs/cli.md's session is what the commands print now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
