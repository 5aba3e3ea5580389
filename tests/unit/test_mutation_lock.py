"""The service lock without AWS: how long a lease lasts (every wait the holder may still do, no longer), who
gets the lock, when a newer upload supersedes the holder that waits for approval, when a lock whose holder's
workflow ended is taken over, and when a deployment gives up waiting (exactly at lock_timeout_seconds)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ecs_handoff.aws.state import LockHolder
from ecs_handoff.errors import RecordConflict
from ecs_handoff.logic import lock
from ecs_handoff.models import ApprovalStatus, DeploymentRequest, LockResult, LockStatus, Phase, iso, utcnow

from tests.helpers import LogRecorder
from tests.samples import REQUEST, approval

AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ME, OLDER = "api-v1", "api-v0"
MY_EXECUTION = "arn:aws:states:ap-northeast-1:123456789012:execution:sm:api-v1"
HIS_EXECUTION = "arn:aws:states:ap-northeast-1:123456789012:execution:sm:api-v0"


def request(waited: float = 0.0, **service: Any) -> DeploymentRequest:
    requested = iso(utcnow() - timedelta(seconds=waited))
    return DeploymentRequest.model_validate(
        {**REQUEST, "requested_at": requested, "service": {**REQUEST["service"], **service}}
    )


class State:
    """The state table's newest upload and the service's lock, held by `holder` (None: free)."""

    def __init__(self, latest: str | None = ME, holder: LockHolder | None = None, take_over: bool = True) -> None:
        self.latest, self.holder, self.take_over = latest, holder, take_over
        self.acquired: list[tuple[str, str, str, int]] = []
        self.taken_over: list[tuple[str, str, str, str, int]] = []

    def latest_deployment(self, service_id: str) -> str | None:
        return self.latest if service_id == "api" else None

    def acquire_lock(self, service_id: str, holder: str, execution_arn: str, lease: int) -> LockHolder | None:
        self.acquired.append((service_id, holder, execution_arn, lease))
        return self.holder

    def take_over_lock(self, service_id: str, dead: str, holder: str, execution_arn: str, lease: int) -> bool:
        self.taken_over.append((service_id, dead, holder, execution_arn, lease))
        return self.take_over


class Records:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, deployment_id: str, **fields: Any) -> None:
        self.updates.append({"deployment_id": deployment_id, **fields})

    def phases(self) -> list[Phase]:
        assert all(u["deployment_id"] == ME and AT.match(u["at"]) for u in self.updates), self.updates
        return [u["phase"] for u in self.updates]


class Approvals:
    def __init__(self, pending: bool = True, conflict: bool = False) -> None:
        self.pending = approval(deployment_id=OLDER) if pending else None
        self.conflict = conflict
        self.asked: list[str] = []
        self.closed: list[tuple[Any, ...]] = []

    def pending_for_deployment(self, deployment_id: str) -> Any:
        self.asked.append(deployment_id)
        return self.pending

    def close(self, approval_id: str, status: ApprovalStatus, at: str, **fields: Any) -> None:
        if self.conflict:
            raise RecordConflict("decided a moment ago")
        self.closed.append((approval_id, status, bool(AT.match(at)), fields))


class Workflows:
    """Step Functions: DescribeExecution of the holder's execution, and SendTaskFailure to its approval wait."""

    def __init__(self, status: str = "RUNNING", ended: bool = False) -> None:
        self.status, self.ended = status, ended
        self.described: list[str] = []
        self.failures: list[dict[str, str]] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.described.append(executionArn)
        return {"status": self.status}

    def send_task_failure(self, **call: str) -> None:
        if self.ended:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "gone"}}, "SendTaskFailure")
        self.failures.append(call)


def acquire(
    req: DeploymentRequest, state: State, records: Records, approvals: Approvals | None = None, sfn: Any = None
) -> LockResult:
    return lock.acquire(req, MY_EXECUTION, records, state, approvals, sfn)  # type: ignore[arg-type]  # fakes


# -- the lease ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "lease"),
    [
        ({}, 600 + 600),  # the rollout and the margin
        ({"approval_required": True, "approvers": ["alice@example.com"]}, 7200 + 600 + 600),
        ({"approval_timeout_seconds": 9000}, 600 + 600),  # no approval asked: its timeout is no wait
        ({"deploy_windows": [{"hours": "10:00-17:00"}], "max_gate_wait_seconds": 3000}, 3000 + 600 + 600),
        ({"max_gate_wait_seconds": 3000}, 600 + 600),  # no release control: nothing holds it
        ({"blocking_alarms": ["a"], "bake_seconds": 300, "max_gate_wait_seconds": 900}, 900 + 600 + 300 + 600),
        ({"approval_required": True, "approvers": ["alice@example.com"], "change_calendar": "freeze",
          "max_gate_wait_seconds": 1000, "blocking_alarms": ["a"], "bake_seconds": 120, "rollout_timeout_seconds": 900},
         7200 + 1000 + 900 + 120 + 600),
    ],
)  # fmt: skip
def test_the_lease_covers_every_wait_the_holder_may_do_and_no_more(service: dict[str, Any], lease: int) -> None:
    assert lock.lease_seconds(request(**service)) == lease


# -- who gets the lock ---------------------------------------------------------------------------------


def test_a_free_lock_is_acquired_for_the_lease_and_recorded() -> None:
    req, state, records = request(), State(), Records()
    assert acquire(req, state, records) == LockResult(status=LockStatus.ACQUIRED, reason="lock acquired")
    assert state.acquired == [("api", ME, MY_EXECUTION, lock.lease_seconds(req))]
    assert records.phases() == [Phase.LOCKED]


def test_no_newest_upload_recorded_does_not_stop_the_lock() -> None:
    assert acquire(request(), State(latest=None), Records()).status is LockStatus.ACQUIRED


def test_a_newer_upload_supersedes_this_one_before_it_takes_the_lock() -> None:
    state, records = State(latest="api-v2"), Records()
    result = acquire(request(), state, records)
    assert result == LockResult(
        status=LockStatus.SUPERSEDED,
        holder="api-v2",
        reason="a newer upload (api-v2) for api arrived before this one deployed; it deploys instead",
    )
    assert state.acquired == [] and records.updates == []


def test_a_lock_held_by_a_running_workflow_makes_this_one_wait() -> None:
    state, records, sfn = State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), Workflows("RUNNING")
    result = acquire(request(waited=60), state, records, None, sfn)
    assert result == LockResult(
        status=LockStatus.WAIT, holder=OLDER, reason="api is being deployed by api-v0; waiting for it to finish"
    )
    assert sfn.described == [HIS_EXECUTION] and state.taken_over == []
    assert records.phases() == [Phase.WAITING_FOR_LOCK]


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"])
def test_a_lock_whose_holder_ended_is_taken_over(status: str) -> None:
    req, records, approvals = request(), Records(), Approvals()
    state = State(holder=LockHolder(OLDER, HIS_EXECUTION, 0))
    result = acquire(req, state, records, approvals, Workflows(status))
    assert result == LockResult(status=LockStatus.ACQUIRED, reason=f"took over the lock from api-v0 ({status})")
    assert state.taken_over == [("api", OLDER, ME, MY_EXECUTION, lock.lease_seconds(req))]
    assert records.phases() == [Phase.LOCKED]
    assert approvals.asked == []  # an ended workflow waits for no approval


def test_a_holder_with_no_execution_is_taken_over_without_asking_step_functions() -> None:
    state, sfn = State(holder=LockHolder(OLDER, "", 0)), Workflows("RUNNING")
    result = acquire(request(), state, Records(), None, sfn)
    assert result.status is LockStatus.ACQUIRED and result.reason == "took over the lock from api-v0 (NOT_FOUND)"
    assert sfn.described == []


def test_a_take_over_someone_else_won_leaves_this_one_waiting() -> None:
    state, records = State(holder=LockHolder(OLDER, HIS_EXECUTION, 0), take_over=False), Records()
    result = acquire(request(), state, records, None, Workflows("SUCCEEDED"))
    assert result.status is LockStatus.WAIT and result.holder == OLDER
    assert records.phases() == [Phase.WAITING_FOR_LOCK]


# -- giving up -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("waited", "status"), [(3599.5, LockStatus.WAIT), (3600.0, LockStatus.TIMED_OUT),
                                                (3600.5, LockStatus.TIMED_OUT)])  # fmt: skip
def test_waiting_for_the_lock_ends_exactly_at_lock_timeout_seconds(
    monkeypatch: pytest.MonkeyPatch, waited: float, status: LockStatus
) -> None:
    monkeypatch.setattr(lock, "seconds_since", lambda _: waited)
    state, records = State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records()
    result = acquire(request(lock_timeout_seconds=3600), state, records, None, Workflows("RUNNING"))
    assert result.status is status and result.holder == OLDER
    if status is LockStatus.TIMED_OUT:
        assert result.reason == (
            f"waited {waited:.0f} s (lock_timeout_seconds) for api-v0 to finish deploying api; nothing was "
            "deployed, upload again to retry"
        )
        assert records.updates == []
    else:
        assert records.phases() == [Phase.WAITING_FOR_LOCK]


# -- a newer upload and an older one waiting for approval ----------------------------------------------


def test_an_older_upload_waiting_for_approval_is_superseded_by_the_newer_one() -> None:
    approvals, sfn = Approvals(), Workflows("RUNNING")
    result = acquire(request(), State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), approvals, sfn)
    # THEN this one waits for the lock, the older one's approval is closed SUPERSEDED by this one ...
    assert result.status is LockStatus.WAIT
    assert approvals.asked == [OLDER]
    assert approvals.closed == [
        ("a" * 32, ApprovalStatus.SUPERSEDED, True, {"superseded_by": ME, "require_unexpired": False})
    ]
    # ... and its workflow's approval wait ends with ApprovalSuperseded
    assert sfn.failures == [
        {
            "taskToken": "token",
            "error": "ApprovalSuperseded",
            "cause": "a newer upload (api-v1) replaced this one while it waited for approval; its links no longer work",
        }
    ]


def test_an_older_upload_with_no_pending_approval_is_left_to_finish() -> None:
    approvals, sfn = Approvals(pending=False), Workflows("RUNNING")
    acquire(request(), State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), approvals, sfn)
    assert approvals.asked == [OLDER] and approvals.closed == [] and sfn.failures == []


def test_an_approval_decided_a_moment_ago_is_not_superseded() -> None:
    approvals, sfn = Approvals(conflict=True), Workflows("RUNNING")
    result = acquire(request(), State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), approvals, sfn)
    assert result.status is LockStatus.WAIT and sfn.failures == []


def test_a_workflow_that_stopped_waiting_on_its_own_is_no_error() -> None:
    approvals, sfn = Approvals(), Workflows("RUNNING", ended=True)
    result = acquire(request(), State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), approvals, sfn)
    assert result.status is LockStatus.WAIT and len(approvals.closed) == 1


def test_a_take_over_and_a_superseded_approval_are_logged(monkeypatch: pytest.MonkeyPatch) -> None:
    log = LogRecorder()
    monkeypatch.setattr(lock, "logger", log)
    acquire(request(), State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), None, Workflows("FAILED"))
    acquire(request(), State(holder=LockHolder(OLDER, HIS_EXECUTION, 0)), Records(), Approvals(), Workflows())
    assert log.lines == [
        ("warning", "took over lock from ended execution", {"previous_holder": OLDER, "holder_status": "FAILED"}),
        ("info", "superseded a deployment awaiting approval", {"superseded": OLDER, "by": ME}),
    ]
