"""Sweeper: finalizes the deployments whose execution ended but whose finalizer never ran.

The workflow's own Finalize step records nearly every outcome, and the "Step Functions Execution Status
Change" rule runs the same finalizer for an execution that ended without reaching it. AWS delivers those
events best effort, though, so a scheduled sweep (template.yaml: every 5 minutes) looks for records still
IN_PROGRESS or AWAITING_APPROVAL whose execution Step Functions says has ended, and finalizes each exactly as
the status event would have (ended_execution_state + finalize): outcome, approval closed, one notification,
lock released.

Where it looks. Every registered service (the registry), and for each the newest NEWEST_PER_SERVICE records
through the deployments table's by_service index, filtered to the unfinished ones: one Query page per
service, whatever the length of its history. Not a Scan of the deployments table (it grows forever), and
not the locks in the state table: a Scan of that table cannot be held to lock# keys by IAM (LeadingKeys
conditions hold vacuously for a Scan), and a deployment that ended waiting for the lock or for approval
holds no lock. A record pushed out of its service's newest by newer uploads before any sweep saw it (more
than NEWEST_PER_SERVICE uploads within one sweep interval) is not found; `handoff status` still shows it.

Safe beside the real finalizer: a record whose execution still runs is left alone; finalize() sets the
outcome once (a conditional write, DeploymentRecords.finish), claims the one notification, and releases the
lock only while this deployment holds it; whichever of the two comes second changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecs_handoff.aws import sfn as sfn_access
from ecs_handoff.aws.approvals import ApprovalStore
from ecs_handoff.aws.records import DeploymentRecords
from ecs_handoff.aws.registry import list_service_ids
from ecs_handoff.aws.state import ServiceState
from ecs_handoff.errors import HandoffError
from ecs_handoff.logic.finalize import ended_execution_state, finalize
from ecs_handoff.models import DeploymentRecord, SweepResult, SweptDeployment
from ecs_handoff.observability import logger

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import SFNClient, SNSClient, SSMClient

# How many of a service's newest records a sweep reads: far more than can start within one sweep interval
# (each upload of a service waits for the one before it), and one Query page of at most this many items.
NEWEST_PER_SERVICE = 25


class Sweeper:
    """One sweep over the registered services, with the tables and clients the finalizer uses."""

    def __init__(
        self,
        registry_prefix: str,
        state_machine_arn: str,
        records: DeploymentRecords,
        service_state: ServiceState,
        approvals: ApprovalStore,
        topic_arn: str,
        sfn: SFNClient | None = None,
        ssm: SSMClient | None = None,
        sns: SNSClient | None = None,
    ) -> None:
        self.registry_prefix = registry_prefix
        self.state_machine_arn = state_machine_arn
        self.records = records
        self.service_state = service_state
        self.approvals = approvals
        self.topic_arn = topic_arn
        self.sfn, self.ssm, self.sns = sfn, ssm, sns

    def sweep(self, newest: int = NEWEST_PER_SERVICE) -> SweepResult:
        """Finalizes what ended unrecorded. One deployment's failure does not stop the others: it is named in
        the result (the handler then fails, so Lambda retries and the on-failure destination keeps it)."""
        result = SweepResult()
        for service_id in list_service_ids(self.registry_prefix, self.ssm):
            result.services += 1
            for record in self.records.unfinished(service_id, newest):
                result.unfinished += 1
                try:
                    self._sweep_one(record, result)
                except HandoffError as exc:
                    logger.error("could not sweep a deployment", deployment_id=record.id, error=str(exc))
                    result.failed[record.id] = f"{type(exc).__name__}: {exc}"
        logger.info(
            "sweep done",
            services=result.services,
            unfinished=result.unfinished,
            running=result.running,
            finalized=[swept.deployment_id for swept in result.finalized],
            not_started=result.not_started,
            failed=sorted(result.failed),
        )
        return result

    def _sweep_one(self, record: DeploymentRecord, result: SweepResult) -> None:
        # The intake names each execution after its deployment id: this finds the execution also when the
        # intake stopped between starting it and writing its ARN on the record.
        execution = sfn_access.execution_arn(self.state_machine_arn, record.id)
        detail = sfn_access.describe_execution(execution, self.sfn)
        if detail is None:  # not started yet (or the intake failed first: its re-drive starts it)
            result.not_started.append(record.id)
            return
        if not detail.status.ended:
            result.running += 1
            return
        state = ended_execution_state(detail, self.records)
        if state is None or state.request.deployment_id != record.id:
            logger.warning("ended execution is not this record's deployment", deployment_id=record.id)
            return
        logger.info(
            "finalizing a deployment whose execution ended unrecorded",
            deployment_id=record.id,
            execution_status=detail.status.value,
        )
        finalized = finalize(
            state,
            self.records,
            self.service_state,
            self.topic_arn,
            self.approvals,
            sns_client=self.sns,
            registry_prefix=self.registry_prefix,
        )
        result.finalized.append(
            SweptDeployment(
                deployment_id=record.id,
                execution_status=detail.status,
                outcome=finalized.outcome,
                recorded=finalized.recorded,
            )
        )
