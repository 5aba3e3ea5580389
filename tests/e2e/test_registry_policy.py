"""What CI may set is the registry entry's to say: which containers, and images from which registries."""

from __future__ import annotations

from typing import Any

from ecs_handoff.models import Outcome
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

ECR_HOST = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"


def test_a_look_alike_registry_host_is_refused(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN an image on a host that only starts like this account's ECR
    before = world.running("dev", "api")
    uri = f"{ECR_HOST}.evil.io/api:dev-lookalike"
    record = world.wait("dev", world.upload("dev", "api", artifact({"app-container": uri})))
    # THEN it is INVALID, naming the host, and nothing changed
    assert record.outcome is Outcome.INVALID
    assert record.reason == (
        f"image '{uri}' comes from registry '{ECR_HOST}.evil.io', which api may not use (allowed: {ECR_HOST})"
    )
    assert world.running("dev", "api") == before


def test_ci_cannot_replace_a_sidecar_terraform_owns(world: World, embedded: EmbeddedAws) -> None:
    # GIVEN the worker's registry entry lets CI set only "app"
    before = world.running("dev", "worker")
    upload = {"app": image("worker", "dev-sidecar1"), "log-router": image("fluent-bit", "dev-evil")}
    record = world.wait("dev", world.upload("dev", "worker", artifact(upload)))
    # THEN the upload is refused and the log router keeps Terraform's image
    assert record.outcome is Outcome.INVALID
    assert record.reason == (
        "container 'log-router' is not one CI may set for worker (containers: app); Terraform sets its image"
    )
    assert world.running("dev", "worker") == before


def test_a_registry_the_entry_allows_is_accepted(world: World, embedded: EmbeddedAws, registry: Any) -> None:
    registry("dev", "api", allowed_registries=[ECR_HOST, "public.ecr.aws"])
    record = world.wait(
        "dev", world.upload("dev", "api", artifact({"nginx-container": "public.ecr.aws/nginx/nginx:1.27"}))
    )
    assert record.outcome is Outcome.SUCCEEDED, record.reason
