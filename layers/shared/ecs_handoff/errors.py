"""The project's own exception types; the state machine's Retry/Catch match on these class names."""

from __future__ import annotations

from typing import Any


class HandoffError(Exception):
    """Base class: every error handoff raises on purpose."""


class ArtifactRejected(HandoffError):
    """The uploaded artifact or its target was refused; nothing may be deployed."""


class TransientAwsError(HandoffError):
    """AWS throttled or failed transiently after botocore's own retries; safe to retry the step."""


class AwsAccessError(HandoffError):
    """AWS refused a call for a reason retrying will not fix (permissions, missing resource)."""


class NotFound(HandoffError):
    """A named resource (service, deployment, stack) does not exist."""


class DeployFailed(HandoffError):
    """Registering the task definition or updating the service failed; the service was not changed."""


class DeploymentRefused(HandoffError):
    """The deploy step's own reading of the record, the registry, the base and the approval does not allow
    what it was asked to deploy (a forged payload, a token that ended the approval wait without an approval):
    nothing was registered or changed."""


class RollbackRefused(HandoffError):
    """The rollback's target is not one handoff may put back (not a revision of the service's family that is
    the registry's base or handoff's own, or not ACTIVE): the service was left as it was."""


class RecordConflict(HandoffError):
    """A conditional write lost a race (duplicate event, lock held elsewhere); `current` is the record as
    the write found it, when the table returned it (ReturnValuesOnConditionCheckFailure)."""

    def __init__(self, message: str, current: Any = None) -> None:
        super().__init__(message)
        self.current = current


class TaskEnded(HandoffError):
    """A task token no longer waits: the workflow timed out, was stopped, or already moved on."""


class ApprovalChannelUnsafe(HandoffError):
    """An approver's topic is missing, or its subscriptions are not exactly that approver's confirmed email: no
    link is sent."""


class ApprovalRejected(HandoffError):
    """An approver rejected the deployment: the error name the approval gate's SendTaskFailure carries."""


class ApprovalSuperseded(HandoffError):
    """A newer upload replaced a deployment waiting for approval: the error name its SendTaskFailure carries."""


class ServiceDeploymentMoved(HandoffError):
    """ECS refused to continue or stop a service deployment because it is no longer where the call expected it
    (the PAUSE hook is no longer AWAITING_ACTION, or the deployment has ended)."""


class SweepIncomplete(HandoffError):
    """The sweeper could not finalize one or more deployments whose execution ended (each is named); the
    others were finalized. Raised so Lambda retries the sweep and then keeps it in the on-failure destination."""
