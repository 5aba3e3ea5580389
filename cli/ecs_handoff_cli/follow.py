"""Reading deployments: `history`, `status` and `watch`, and finding a deployment by its id or short id."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ecs_handoff.errors import NotFound
from ecs_handoff.models import Approval, DeploymentRecord, Outcome, Phase, execution_name
from ecs_handoff.taskdef import short_name

from ecs_handoff_cli import show
from ecs_handoff_cli.connect import Env, environment_names
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError

WIDE = 10**6  # --wide: lines are as long as their content


def find_deployment(ident: str, env_name: str | None, wait_seconds: float = 0.0) -> tuple[Env, DeploymentRecord]:
    """The environment and record of a deployment named by its id or short id (<service>-<8 characters>).

    An upload's record appears a moment after the upload (the intake runs on S3's event): an id that an
    object version of that service's metadata carries is waited for, up to wait_seconds; any other id is
    refused at once."""
    envs = [Env(name) for name in environment_names(env_name)]
    for env in envs:
        record = env.records().get(ident)
        if record is not None:
            return env, record
    for env in envs:
        for service_id in (s for s in env.service_ids() if ident.startswith(f"{s}-")):
            matches = [r for r in env.records().history(env.name, service_id, 200) if r.id.startswith(ident)]
            if len(matches) > 1:
                raise UsageError(f"{ident!r} matches {len(matches)} deployments: {', '.join(r.id for r in matches)}")
            if matches:
                return env, matches[0]
            uploaded = _uploaded(env, service_id, ident)
            if uploaded:
                return env, _wait_for_intake(env, uploaded, wait_seconds)
    where = f"in {env_name}" if env_name else "in any environment"
    raise NotFound(
        f"deployment {ident!r} not found {where}: no record and no upload of that id "
        f"(`handoff history --env <env>` lists the deployments)"
    )


def _uploaded(env: Env, service_id: str, ident: str) -> str | None:
    """The full deployment id of a recent upload whose id starts with ident, if there is one. Without
    s3:ListBucketVersions the CLI cannot tell: a full-length id is then waited for as before."""
    from ecs_handoff.aws.clients import aws_call, client
    from ecs_handoff.errors import AwsAccessError

    try:
        with aws_call(f"listing the versions of s3://{env.bucket}/{env.key(service_id)}"):
            page = client("s3").list_object_versions(Bucket=env.bucket, Prefix=env.key(service_id), MaxKeys=100)
    except AwsAccessError:
        return ident if len(ident) > len(service_id) + 1 + 8 else None
    for version in page.get("Versions", []):
        if version["Key"] == env.key(service_id):
            deployment_id = execution_name(service_id, str(version["VersionId"]))
            if deployment_id.startswith(ident):
                return deployment_id
    return None


def _wait_for_intake(env: Env, deployment_id: str, wait_seconds: float) -> DeploymentRecord:
    deadline = time.monotonic() + wait_seconds
    while True:
        record: DeploymentRecord | None = env.records().get(deployment_id)
        if record is not None:
            return record
        if time.monotonic() >= deadline:
            raise NotFound(
                f"deployment {deployment_id} was uploaded but has no record after {wait_seconds:.0f} s: the intake "
                f"has not run (`handoff doctor --env {env.name}` checks its event rule)"
            )
        time.sleep(0.2)


def approval_of(env: Env, record: DeploymentRecord) -> Approval | None:
    """The pending approval a deployment awaits (None when it awaits none, or the approval is decided and
    the record not yet moved on, or it is not written yet)."""
    from ecs_handoff.models import ApprovalStatus

    if record.outcome is not Outcome.AWAITING_APPROVAL or not record.approval_id:
        return None
    approval: Approval | None = env.approvals().get(record.approval_id)
    return approval if approval is not None and approval.status is ApprovalStatus.PENDING else None


def cmd_history(args: argparse.Namespace) -> int:
    env = Env(args.env)
    records: list[DeploymentRecord] = env.records().history(args.env, args.service, args.limit)
    if args.service and not records and args.service not in (known := env.service_ids()):
        raise NotFound(
            f"service {args.service!r} is not registered in {args.env}; registered: {', '.join(known) or 'none'}"
        )
    if args.json:
        show.print_json([show.record_json(r) for r in records])
        return EXIT_OK
    if not records:
        print(f"no deployments of {args.service or 'any service'} in {args.env} yet")
        return EXIT_OK
    columns = [show.Column("ID", 12, shrink=2), show.Column("STARTED", 11 if not args.wide else 16)]
    if not args.service:
        columns.append(show.Column("SERVICE", 6, shrink=3))
    columns += [show.Column("OUTCOME", 10, shrink=1), show.Column("IMAGES", 12, shrink=5)]
    columns.append(show.Column("APPROVED BY", 6, shrink=4))
    if args.wide:
        columns += [show.Column("REVISION", 8), show.Column("VERDICT", 5), show.Column("DEPLOY-NOW", 10)]
        columns.append(show.Column("REASON", 10))
    rows, details = [], []
    for r in records:
        row = [r.id if args.wide else show.short_id(r.id, r.service), _started(r.started_at, args.wide)]
        if not args.service:
            row.append(r.service)
        refused = r.outcome is Outcome.INVALID and not r.images
        images = "(refused)" if refused else show.images_text(r.images, containers=args.wide)
        marker = OVERRIDDEN if r.override else ""
        row += [r.outcome.value + marker, images, ", ".join(r.approved_by) or "-"]
        if args.wide:
            revision = short_name(r.new_task_definition) if r.new_task_definition else "-"
            row += [revision, r.verdict_by.value if r.verdict_by else "-", _override_text(r), r.reason]
        rows.append(row)
        # the short form has no REASON column: why the intake refused it, on a line of its own
        details.append([f"    refused: {r.reason}"] if r.outcome is Outcome.INVALID and not args.wide else [])
        if r.promoted_from is not None:  # where its images proved themselves (the intake verified the statement)
            details[-1].append(f"    {r.promoted_from.summary(r.service)}")
    total = WIDE if args.wide else show.width()
    outcome_column = [c.title for c in columns].index("OUTCOME")
    lines = show.table(columns, rows, total, paint=_painter(outcome_column))
    print(lines[0])
    for line, extra in zip(lines[1:], details, strict=True):
        print(line)
        for detail in extra:
            print(show.cut(detail, total))
    if not args.wide and any(r.override for r in records):
        print(show.cut(f"{OVERRIDDEN} started past its release controls by deploy-now (who and why: --wide)", total))
    return EXIT_OK


OVERRIDDEN = "*"  # history's mark on the outcome of a deployment `handoff deploy-now` started


def _override_text(record: DeploymentRecord) -> str:
    """Who started a deployment past its release controls with `handoff deploy-now`, and why ("-" if nobody)."""
    if not record.override:
        return "-"
    return f"{record.override.get('principal', '?')}: {record.override.get('reason', '')}"


def _started(iso_time: str, wide: bool) -> str:
    return show.when(iso_time) if wide else show.when(iso_time)[5:]


def _painter(outcome_column: int) -> Any:
    def paint(column: int, value: str, padded: str) -> str:
        return show.outcome(value.removesuffix(OVERRIDDEN), padded) if column == outcome_column else padded

    return paint


@dataclass
class ServiceStatus:
    service_id: str
    cluster: str = ""
    ecs_service: str = ""
    running_task_definition: str = ""
    running_images: dict[str, str] = field(default_factory=dict)
    in_flight: DeploymentRecord | None = None  # the newest deployment in flight
    approval: Approval | None = None  # the approval the deployment in flight waits for
    last: DeploymentRecord | None = None
    problem: str = ""
    # every deployment in flight, newest first, with the approval each waits for
    all_in_flight: list[tuple[DeploymentRecord, Approval | None]] = field(default_factory=list)
    ecs_deployments: list[dict[str, Any]] = field(default_factory=list)  # ECS's, PRIMARY first

    def flights(self) -> list[tuple[DeploymentRecord, Approval | None]]:
        """Every deployment in flight with its approval (the newest alone where only it is known)."""
        if self.all_in_flight or self.in_flight is None:
            return self.all_in_flight
        return [(self.in_flight, self.approval)]

    @property
    def running(self) -> str:
        """What runs, from ECS's counts: the revision alone once its tasks all run, else what it is doing."""
        if not self.running_task_definition:
            return "(not found)"
        primary = next((d for d in self.ecs_deployments if d.get("status") == "PRIMARY"), None)
        return ecs_words(primary) if primary else short_name(self.running_task_definition)

    def ecs_lines(self) -> list[str]:
        """ECS's deployments when the service is not steady: each revision and its tasks."""
        if not self.ecs_deployments:
            return []
        if len(self.ecs_deployments) < 2 and self.running == short_name(self.running_task_definition):
            return []
        return ["ECS: " + "; ".join(ecs_words(d, counts=True) for d in self.ecs_deployments)]

    def as_json(self) -> dict[str, Any]:
        in_flight = None
        if self.in_flight is not None:
            in_flight = {**show.record_json(self.in_flight), "now": show.deployment_line(self.in_flight, self.approval)}
        return {
            "service": self.service_id,
            "cluster": self.cluster,
            "ecs_service": self.ecs_service,
            "running_task_definition": self.running_task_definition,
            "running_images": self.running_images,
            "in_flight": in_flight,
            "approval": show.approval_json(self.approval) if self.approval is not None else None,
            "last": show.record_json(self.last) if self.last else None,
            "problem": self.problem or None,
            "running": self.running,
            "in_flight_all": [{**show.record_json(r), "now": show.deployment_line(r, a)} for r, a in self.flights()],
            "ecs_deployments": [
                {
                    "status": d.get("status"),
                    "task_definition": d.get("taskDefinition"),
                    "rollout_state": d.get("rolloutState"),
                    "desired_count": d.get("desiredCount", 0),
                    "running_count": d.get("runningCount", 0),
                    "pending_count": d.get("pendingCount", 0),
                }
                for d in self.ecs_deployments
            ],
        }


def ecs_words(deployment: dict[str, Any], counts: bool = False) -> str:
    """One ECS deployment in words from its counts: "prod-api:2 starting (0/2 tasks running)" until its tasks
    all run, "prod-api:2 failed (…)" when ECS gave up on it, an older one "draining (2 tasks)" while its tasks stop;
    a steady one is its revision alone (with counts: and "(2/2 tasks running)")."""
    name = short_name(str(deployment.get("taskDefinition", "")))
    running, desired = int(deployment.get("runningCount", 0)), int(deployment.get("desiredCount", 0))
    state = deployment.get("rolloutState")
    tasks = f"({running}/{desired} tasks running)"
    if deployment.get("status") != "PRIMARY":
        return f"{name} draining ({running} task{'s' if running != 1 else ''})"
    if state == "FAILED":
        return f"{name} failed {tasks}"
    if running < desired or state == "IN_PROGRESS":
        return f"{name} starting {tasks}"
    return f"{name} {tasks}" if counts else name


def summarise(history: list[DeploymentRecord]) -> tuple[DeploymentRecord | None, DeploymentRecord | None]:
    """(a deployment in flight or awaiting approval, the last finished one) from newest-first history."""
    in_flight = next((r for r in history if not r.outcome.terminal), None)
    last = next((r for r in history if r.outcome.terminal), None)
    return in_flight, last


def service_status(env: Env, service_id: str) -> ServiceStatus:
    from ecs_handoff.aws import ecs as ecs_access

    config = env.service(service_id)
    status = ServiceStatus(service_id, config.cluster, config.service)
    try:
        running = ecs_access.describe_service(config.cluster, config.service)
        status.running_task_definition = str(running["taskDefinition"])
        deployments = [d for d in running.get("deployments", []) if d.get("status") in ("PRIMARY", "ACTIVE")]
        status.ecs_deployments = sorted(deployments, key=lambda d: d.get("status") != "PRIMARY")
        td, _ = ecs_access.describe_task_definition(status.running_task_definition)
        status.running_images = {c["name"]: c.get("image", "") for c in td["containerDefinitions"]}
    except NotFound as exc:
        status.problem = str(exc)
    history = env.records().history(env.name, service_id, 20)
    status.in_flight, status.last = summarise(history)
    status.all_in_flight = [(r, approval_of(env, r)) for r in history if not r.outcome.terminal]
    if status.all_in_flight:
        status.approval = status.all_in_flight[0][1]
    return status


def cmd_status(args: argparse.Namespace) -> int:
    statuses: dict[str, list[ServiceStatus]] = {}
    for name in environment_names(args.env):
        env = Env(name)
        ids = [args.service] if args.service else env.service_ids()
        statuses[name] = [service_status(env, service_id) for service_id in ids]
    if args.json:
        show.print_json({env: [s.as_json() for s in rows] for env, rows in statuses.items()})
        return EXIT_OK
    total = WIDE if args.wide else show.width()
    columns = [
        show.Column("SERVICE", 6, shrink=2),
        show.Column("RUNNING", 8, shrink=3),
        show.Column("LAST", 9),
        show.Column("FINISHED", 11),
        show.Column("NOW", 11, shrink=4),
    ]
    if args.wide:
        columns.append(show.Column("IMAGES", 10))
    for number, (name, rows) in enumerate(statuses.items()):
        if number:
            print()
        print(f"handoff {name}")
        table_rows, details = [], []
        for s in rows:
            now = "-"
            if s.in_flight is not None:
                now = f"{show.short_id(s.in_flight.id, s.service_id)} {s.in_flight.outcome.value}"
                if len(s.flights()) > 1:
                    now += f" +{len(s.flights()) - 1}"
            row = [
                s.service_id,
                s.running.split(" (")[0],  # the counts are on the ECS line under it
                s.last.outcome.value if s.last else "-",
                show.when(s.last.finished_at)[5:] if s.last and s.last.finished_at else "-",
                now,
            ]
            if args.wide:
                row.append(", ".join(f"{k}={show.image_tag(v)}" for k, v in s.running_images.items()))
            table_rows.append(row)
            details.append(_details(s, name))
        lines = show.table(columns, table_rows, total, paint=_painter(2))
        print(lines[0])
        for line, extra in zip(lines[1:], details, strict=True):
            print(line)
            for detail in extra:
                print(show.cut(detail, total) if not args.wide else detail)
    return EXIT_OK


def _details(s: ServiceStatus, env: str) -> list[str]:
    """Indented lines under a service: what its deployment in flight waits for, how to decide it or start it
    past what holds it, a problem."""
    lines = []
    if s.problem:
        lines.append(f"    problem: {s.problem}")
    lines += [f"    {line}" for line in s.ecs_lines()]
    for record, approval in s.flights():
        short = show.short_id(record.id, s.service_id)
        lines.append(f"    {short}: {show.deployment_line(record, approval)}")
        lines += [f"    {line}" for line in show.next_steps(record, approval, env)]
    return lines


def follow(env: Env, record: DeploymentRecord, interval: float, timeout: float, quiet: bool) -> DeploymentRecord:
    """Print a deployment's progress until it ends: on a terminal one live line (when the phase began, in
    seconds after the upload; outcome, phase, task counts or whom it waits for) and a new line whenever the
    phase changes; in a log one line per change. The last line is drawn from the record as finalize left it
    (the final task counts). TimeoutError after timeout seconds."""
    started = time.monotonic()
    live = show.is_terminal() and not quiet
    shown_state, shown_text = "", ""
    first_seen: dict[str, float] = {}  # a phase the record's timeline lacks: when this watch first saw it
    fresh_line = True  # on a terminal: the cursor is at the start of an empty line
    while True:
        approval = approval_of(env, record)
        text = show.deployment_line(record, approval)
        state = f"{record.outcome.value} {record.phase or ''}"
        value = record.outcome.value
        line = f"{_seconds(_began(record, first_seen))}  {show.outcome(value, value.ljust(17))} "
        line += show.cut(text, max(show.width() - 28, 20))
        if live:
            moved_on = shown_state and state != shown_state and not fresh_line
            print(("\n" if moved_on else "") + f"\r\033[K{line}", end="", flush=True)
            fresh_line = False
        elif not quiet and (state, text) != (shown_state, shown_text):
            print(line, flush=True)
        steps = show.next_steps(record, approval, env.name)
        if steps and state != shown_state and not quiet:
            # once, under the line that says what it waits for: what to decide it (or start it) with
            details = [show.cut(f"{'':10}{step}", show.width()) for step in steps]
            # on a terminal they go under the live line, and the live line continues below them
            print(("\n" if live else "") + "\n".join(details), flush=True)
            fresh_line = True
        shown_state, shown_text = state, text
        finished = record.outcome.terminal and record.phase is Phase.FINISHED
        if finished or time.monotonic() - started > timeout:
            if live:
                print(flush=True)
            if finished:
                return record
            raise TimeoutError(f"{record.id} is still {record.outcome.value} after {timeout:.0f} s of watching")
        time.sleep(interval)
        record = env.records().get(record.id) or record


def _seconds(seconds: float) -> str:
    """8 characters: seconds to a tenth, hours past a day (a deployment that waited long for its approval)."""
    return f"{seconds:7.1f}s" if seconds < 100_000 else f"{seconds / 3600:7.1f}h"


def _began(record: DeploymentRecord, first_seen: dict[str, float]) -> float:
    """Seconds from the upload (the record's started_at) to when its current phase began: the phase's first
    time in the record's timeline (each phase keeps the time it was first reached); for a phase the timeline
    lacks, when this watch first saw it."""
    from ecs_handoff.models import parse_iso

    phase = str(record.phase or "")
    at = record.timeline.get(phase)
    try:
        start = parse_iso(record.started_at).timestamp()
        if at:
            return max(parse_iso(at).timestamp() - start, 0.0)
    except ValueError:
        return 0.0
    return max(first_seen.setdefault(phase, time.time()) - start, 0.0)


def ended(record: DeploymentRecord, as_json: bool, extra: dict[str, Any] | None = None) -> int:
    """The end of a followed deployment: its outcome and why; exit 0 only for SUCCEEDED."""
    if as_json:
        show.print_json({**(extra or {}), **show.record_json(record)})
    else:
        verdict = ""
        if record.verdict_by is not None:
            verdict = " [ECS's event decided]" if record.verdict_by.value == "event" else " [handoff's look decided]"
        print(f"{show.outcome(record.outcome.value)}: {record.reason}{verdict}")
    return EXIT_OK if record.outcome is Outcome.SUCCEEDED else EXIT_FAILED


def cmd_watch(args: argparse.Namespace) -> int:
    env, record = find_deployment(args.deployment_id, args.env, wait_seconds=args.wait_for_intake)
    return watch(env, record, args)


def watch(env: Env, record: DeploymentRecord, args: argparse.Namespace, extra: dict[str, Any] | None = None) -> int:
    try:
        record = follow(env, record, args.interval, args.timeout, quiet=args.json)
    except TimeoutError as exc:
        print(f"handoff: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return interrupted(record.id, record.service, env.name)
    return ended(record, args.json, extra)


def interrupted(deployment_id: str, service: str, env_name: str) -> int:
    """Ctrl-C while following a deployment: only the watching stops (the workflow runs in AWS), so say that,
    and how to follow it again."""
    if show.is_terminal():
        print(flush=True)  # end the live line (the terminal has echoed ^C on it)
    elif getattr(sys.stderr, "isatty", lambda: False)():
        print(file=sys.stderr)  # past the ^C the terminal echoed
    short = show.short_id(deployment_id, service)
    print(f"deployment carries on; follow it again: handoff watch {short} --env {env_name}", file=sys.stderr)
    return EXIT_INTERRUPTED
