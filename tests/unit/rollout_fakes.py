"""Fakes of what the rollout step talks to (its waits, the lock, the record, ECS, the workflow), shared by the
unit tests of logic/rollout.py: each behaves as the real one does for the calls the rollout makes, and keeps what
it was asked so a test can say what the rollout did."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from ecs_handoff.aws.state import RolloutWait
from ecs_handoff.models import Phase

RUNNING_TD = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:1"


class TurnWaits:
    """The rollout waits as one WatchRollout turn sees them: its own wait stored (or a newer turn's already
    there), and taken once."""

    def __init__(self, newer_turn: bool = False, taken_already: bool = False) -> None:
        self.newer_turn, self.taken_already = newer_turn, taken_already
        self.stored: list[tuple[Any, ...]] = []
        self.kept: list[tuple[str, bool]] = []  # (task_definition, pause) of each wait stored
        self.current: RolloutWait | None = None
        self.takes = 0

    def wait(
        self,
        ecs_id: str,
        token: str,
        order: str,
        deployment_id: str,
        path: str,
        expires: int,
        task_definition: str = "",
        pause: bool = False,
    ) -> bool:
        self.stored.append((ecs_id, token, order, deployment_id, path, expires))
        self.kept.append((task_definition, pause))
        if self.newer_turn:
            return False
        if not self.taken_already:
            self.current = RolloutWait(
                token=token,
                deployment_id=deployment_id,
                service=path,
                wait_order=order,
                task_definition=task_definition,
                pause=pause,
            )
        return True

    def take(self, ecs_id: str, service: str | None = None) -> RolloutWait | None:
        self.takes += 1
        if ecs_id != "ecs-svc/new":
            return None
        taken, self.current = self.current, None
        return taken


class EventWaits:
    """One stored wait, as the table's conditional delete gives it: nothing for another service than named."""

    def __init__(self, service: str = "dev/api", present: bool = True) -> None:
        self.wait: RolloutWait | None = (
            RolloutWait(token="wait-token", deployment_id="api-v1", service=service) if present else None
        )
        self.took: list[tuple[str, str | None]] = []
        self.given_back = 0

    def take(self, ecs_id: str, service: str | None = None) -> RolloutWait | None:
        self.took.append((ecs_id, service))
        if self.wait is None or (service is not None and self.wait.service != service):
            return None
        taken, self.wait = self.wait, None
        return taken

    def give_back(self, ecs_id: str, wait: RolloutWait) -> None:
        """Stores it again under the id given (another id would not restore this rollout's wait)."""
        self.given_back += 1
        if ecs_id == "ecs-svc/new":
            self.wait = wait


class StoredWaits:
    """The rollout waits table: waits keyed by ECS deployment id, taken by a conditional delete (nothing for
    another service than named), given back only where none is stored."""

    def __init__(self, waits: dict[str, RolloutWait] | None = None) -> None:
        self.waits: dict[str, RolloutWait] = dict(waits or {})
        self.took: list[tuple[str, str | None]] = []
        self.given_back: list[str] = []

    def take(self, ecs_id: str, service: str | None = None) -> RolloutWait | None:
        self.took.append((ecs_id, service))
        wait = self.waits.get(ecs_id)
        if wait is None or (service is not None and wait.service != service):
            return None
        return self.waits.pop(ecs_id)

    def give_back(self, ecs_id: str, wait: RolloutWait) -> None:
        self.given_back.append(ecs_id)
        self.waits.setdefault(ecs_id, wait)


class State:
    def __init__(self) -> None:
        self.renewed: list[tuple[str, str, int]] = []

    def renew_lock(self, service_id: str, holder: str, lease: int) -> bool:
        self.renewed.append((service_id, holder, lease))
        return True


class Records:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(self, deployment_id: str, **fields: Any) -> None:
        self.updates.append({"deployment_id": deployment_id, **fields})

    def rolling_out(self, deployment_id: str, at: str, **fields: Any) -> None:
        # The real one leaves a phase the lifecycle hook set (a held shift) as it is: here no hook holds one.
        self.updates.append({"deployment_id": deployment_id, "phase": Phase.ROLLING_OUT, "at": at, **fields})


class Ecs:
    """DescribeServices showing one service (or none: it does not exist), or refusing access; and the service
    deployments ECS made (ListServiceDeployments, DescribeServiceRevisions, DescribeServiceDeployments), given
    as {task definition of the target revision: the deployment as DescribeServiceDeployments describes it}."""

    def __init__(
        self,
        *shown: dict[str, Any],
        exists: bool = True,
        denied: bool = False,
        service_deployments: dict[str, dict[str, Any]] | None = None,
        deployments_denied: bool = False,
    ) -> None:
        self.shown, self.exists, self.denied = list(shown), exists, denied
        self.deployments_denied = deployments_denied
        self.asked: list[tuple[str, list[str]]] = []
        self.service_deployments = service_deployments or {}
        self.listed: list[tuple[str, str, Any]] = []  # (cluster, service, createdAt.after or None)

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        self.asked.append((cluster, services))
        if self.denied:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeServices")
        index = min(len(self.asked), len(self.shown)) - 1
        shown = self.shown[index] if self.shown else {"deployments": [], "taskDefinition": RUNNING_TD}
        return {"services": [{**shown, "status": "ACTIVE"}] if self.exists else [], "failures": []}

    def list_service_deployments(
        self, cluster: str, service: str, maxResults: int, createdAt: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.listed.append((cluster, service, (createdAt or {}).get("after")))
        if self.deployments_denied:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListServiceDeployments")
        return {
            "serviceDeployments": [
                {
                    "serviceDeploymentArn": d["serviceDeploymentArn"],
                    "targetServiceRevisionArn": d["targetServiceRevision"]["arn"],
                    "status": d["status"],
                    "createdAt": d.get("createdAt", ""),
                }
                for d in self.service_deployments.values()
            ]
        }

    def describe_service_revisions(self, serviceRevisionArns: list[str]) -> dict[str, Any]:
        revisions = {d["targetServiceRevision"]["arn"]: td for td, d in self.service_deployments.items()}
        return {
            "serviceRevisions": [
                {"serviceRevisionArn": arn, "taskDefinition": revisions[arn]}
                for arn in serviceRevisionArns
                if arn in revisions
            ]
        }

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        return {
            "serviceDeployments": [
                d for d in self.service_deployments.values() if d["serviceDeploymentArn"] in serviceDeploymentArns
            ]
        }


class Workflow:
    def __init__(self, ended: bool = False) -> None:
        self.ended = ended
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        if self.ended:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "gone"}}, "SendTaskSuccess")
        self.sent.append((taskToken, json.loads(output)))
        return {}
