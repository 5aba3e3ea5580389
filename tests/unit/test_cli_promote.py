"""`handoff promote`'s own decisions, without AWS: the zip it uploads and the target's rule checked first."""

from __future__ import annotations

from typing import Any

from ecs_handoff.artifact import read_upload
from ecs_handoff.models import ServiceConfig
from ecs_handoff_cli.promote import PromotedImage, artifact, soak_problem

HOST = "222222222222.dkr.ecr.ap-northeast-1.amazonaws.com"
DIGEST = "sha256:" + "a" * 64
PEM = "-----BEGIN PUBLIC KEY-----\n" + "A" * 64 + "\n" + "A" * 60 + "\n-----END PUBLIC KEY-----\n"
KEY = "arn:aws:kms:ap-northeast-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def config(**rule: Any) -> ServiceConfig:
    promotion = {"from": "dev", "soak_seconds": 3600, "key_id": KEY, "public_key": PEM, **rule}
    return ServiceConfig.model_validate(
        {"cluster": "prod", "service": "api", "task_definition": "prod-api", "promotion": promotion}
    )


def predicate(**changes: Any) -> dict[str, Any]:
    return {"environment": "dev", "deployment_id": "api-v1", "soaked_seconds": 600, "still_running": True, **changes}


def test_cli_promote_uploads_the_digests_in_the_targets_registry_with_the_envelope() -> None:
    envelope = {"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": []}
    raw, body = artifact([PromotedImage("app-container", "api", DIGEST)], HOST, envelope)
    images, evidence = read_upload(body)  # the intake's own reader takes it
    assert [(i.name, i.image_uri) for i in images] == [("app-container", f"{HOST}/api@{DIGEST}")]
    assert evidence is not None and b'"payloadType": "application/vnd.in-toto+json"' in evidence
    assert b"imageUri" in raw


def test_cli_promote_refuses_before_the_soak_with_the_time_left() -> None:
    assert soak_problem(predicate(), config(), "prod") == (
        "api-v1 ran in dev for 600 s of the 3600 s soak prod asks; promote again in 3000 s"
    )
    assert "no longer runs there" in soak_problem(predicate(still_running=False), config(), "prod")
    assert soak_problem(predicate(soaked_seconds=3600), config(), "prod") == ""


def test_cli_promote_refuses_another_source_environment() -> None:
    assert soak_problem(predicate(environment="qa"), config(), "prod") == (
        "prod accepts only promotions from dev, not from qa"
    )


def test_cli_local_takes_only_the_profiles_the_embedded_aws_wrote() -> None:
    import pytest
    from ecs_handoff_cli.connect import local_profile
    from ecs_handoff_cli.exits import UsageError

    assert local_profile("handoff-local-prod") == "handoff-local-prod"
    with pytest.raises(UsageError, match="not 'default'"):
        local_profile("default")
