"""The source side of a promotion: what this environment proves about one of its deployments, re-derived from
its own records and ECS (never from the request), signed with its KMS key.

It signs only for a deployment that SUCCEEDED here, whose images are pinned by digest, were not rolled back,
and did not fail again here since; the soak it states is how long those images ran as the service's revision,
from SUCCEEDED until the next deployment of the service started (or until now, when ECS still runs them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecs_handoff import promotion
from ecs_handoff.aws import ecs as ecs_access
from ecs_handoff.aws import kms
from ecs_handoff.errors import NotFound
from ecs_handoff.models import DeploymentRecord, Outcome, iso, parse_iso, utcnow
from ecs_handoff.observability import logger

if TYPE_CHECKING:
    from ecs_handoff.aws.clients import ECSClient, KMSClient
    from ecs_handoff.aws.records import DeploymentRecords

# The deployments of the service after this one read, oldest first: the first that changed the service ends the
# soak, and any that deployed the same images and FAILED refuses them. All of them must be read, so a full read
# is refused rather than signed (uploads refused before deploying count too, and source CI can make many). The
# index is eventually consistent: one started a moment ago may be missing, which the look at what ECS runs
# makes up for.
LATER_RECORDS = 1000


class PromotionRefused(Exception):
    """This environment will not sign for the deployment; `status` is the HTTP answer's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Attestation:
    envelope: dict[str, Any]
    predicate: promotion.PromotionPredicate


def _images_of(record: DeploymentRecord) -> list[promotion.PromotedImage]:
    images: list[promotion.PromotedImage] = []
    for image in record.validated_images or []:
        _, repository, digest = promotion.image_parts(image.image_uri)
        if digest is None:
            raise PromotionRefused(
                409,
                f"container {image.name!r} of {record.id} ran {image.image_uri[:120]!r}, not pinned by digest "
                "(pin_digests is off, or the image is not in this account's ECR); promotion carries digests only",
            )
        images.append(promotion.PromotedImage(container=image.name, repository=repository, digest=digest))
    if not images:
        raise PromotionRefused(409, f"{record.id} has no validated images to promote")
    return images


def _same_images(a: DeploymentRecord, b: DeploymentRecord) -> bool:
    # By container, repository and digest: the reference's host and a tag written before the digest do not
    # change what runs (`repo:tag@sha256:...` is deployed as uploaded), so they must not hide a failure.
    def ran(record: DeploymentRecord) -> set[tuple[str, str, str | None]]:
        return {(i.name, *promotion.image_parts(i.image_uri)[1:]) for i in record.validated_images or []}

    return ran(a) == ran(b)


class Attestor:
    def __init__(
        self,
        records: DeploymentRecords,
        env: str,
        key_arn: str,
        ecs_client: ECSClient | None = None,
        kms_client: KMSClient | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.records, self.env, self.key_arn = records, env, key_arn
        self.ecs, self.kms, self.now = ecs_client, kms_client, now

    def attest(self, deployment_id: str) -> Attestation:
        record = self.records.get(deployment_id)
        if record is None or record.env != self.env:
            raise PromotionRefused(404, f"there is no deployment {deployment_id} in {self.env}")
        if record.outcome is not Outcome.SUCCEEDED or not record.finished_at:
            raise PromotionRefused(
                409,
                f"{record.id} is {record.outcome.value} in {self.env} ({record.reason[:200] or 'no reason recorded'}); "
                "only a SUCCEEDED deployment can be promoted",
            )
        images = _images_of(record)
        now = self.now()
        replaced_at = self._replaced_at(record)
        running = replaced_at is None and self._still_runs(record)
        if replaced_at is None and not running:
            raise PromotionRefused(
                409,
                f"ECS service {record.ecs_service} in {self.env} no longer runs {record.new_task_definition}, and no "
                "later handoff deployment replaced it (someone changed the service outside handoff); nothing is "
                "signed for images whose run here is not known",
            )
        end = replaced_at or now
        soaked = max(0, int((end - parse_iso(record.finished_at)).total_seconds()))
        account, region = self._account_region()
        predicate = promotion.PromotionPredicate(
            environment=self.env,
            account=account,
            region=region,
            service=record.service,
            deployment_id=record.id,
            succeeded_at=record.finished_at,
            attested_at=iso(now),
            soaked_seconds=soaked,
            still_running=running,
            images=images,
        )
        payload = promotion.canonical(promotion.statement(predicate))
        message = promotion.pae(promotion.PAYLOAD_TYPE, payload)
        if len(message) > promotion.MAX_SIGNED_BYTES:  # ten images with 200-character repository names
            raise PromotionRefused(
                409,
                f"the statement about {record.id} is {len(message)} bytes; KMS signs a message of at most "
                f"{promotion.MAX_SIGNED_BYTES} bytes (its images' repository names are too long to promote)",
            )
        key_arn, signature = kms.sign(self.key_arn, message, self.kms)
        logger.info("promotion statement signed", deployment_id=record.id, soaked_seconds=soaked, running=running)
        return Attestation(promotion.envelope(payload, key_arn, signature), predicate)

    def _replaced_at(self, record: DeploymentRecord) -> datetime | None:
        """When the next deployment of the service started changing it (None: none has); refused when that
        was a rollback of these images, or these images failed here since."""
        read = self.records.history(
            self.env, record.service, limit=LATER_RECORDS, since=record.started_at, oldest_first=True
        )
        if len(read) >= LATER_RECORDS:
            raise PromotionRefused(
                409,
                f"{record.service} has more than {LATER_RECORDS - 1} deployments in {self.env} since {record.id} "
                "(refused uploads included); what happened to its images after it is not all read, so nothing is "
                "signed: promote a more recent deployment",
            )
        later = [r for r in read if r.id != record.id and r.started_at > record.started_at]
        replaced: datetime | None = None
        for other in sorted(later, key=lambda r: r.started_at):
            if other.outcome is Outcome.FAILED and _same_images(record, other):
                raise PromotionRefused(
                    409,
                    f"the same images were deployed again in {self.env} as {other.id} and it FAILED "
                    f"({other.reason[:200]}); they are not promoted",
                )
            started = other.timeline.get("deploying")
            if replaced is None and started:
                # Whatever its outcome: one still deploying, or one that failed and left these images running,
                # still says people wanted them gone.
                if self._is_rollback(record, other):
                    raise PromotionRefused(
                        409,
                        f"{record.id} was rolled back in {self.env}: {other.id} put back the images that ran before it",
                    )
                replaced = parse_iso(started)
        return replaced

    @staticmethod
    def _is_rollback(record: DeploymentRecord, other: DeploymentRecord) -> bool:
        # What ran before may be Terraform's tag and the rollback's upload pinned: either form counts. A pinned
        # one is compared by repository and digest (a host or a tag before the digest changes nothing that runs).
        def same(uri: str | None) -> str | None:
            if uri is None:
                return None
            _, repository, digest = promotion.image_parts(uri)
            return f"{repository}@{digest}" if digest else uri

        before = {c.container: same(c.image_before) for c in record.images if c.image_before}
        after = {c.container: {same(c.image_after), same(c.requested)} for c in other.images}
        # It put back what ran before in each container it changed, and changed at least one of these (one that
        # changed no image, or only other containers, left these images running).
        return (
            bool(before)
            and bool(after)
            and all(name in before and before[name] in forms for name, forms in after.items())
        )

    def _still_runs(self, record: DeploymentRecord) -> bool:
        try:
            service = ecs_access.describe_service(record.cluster, record.ecs_service, self.ecs)
        except NotFound:
            return False
        return bool(record.new_task_definition) and service.get("taskDefinition") == record.new_task_definition

    def _account_region(self) -> tuple[str, str]:
        # arn:aws:kms:<region>:<account>:key/<id>: the key this environment signs with says where it is.
        parts = self.key_arn.split(":")
        return (parts[4], parts[3]) if len(parts) > 5 else ("", "")
