"""The embedded AWS's ECS task definitions behave as AWS documents them (moto's gaps, filled in gaps/ecs.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ecs_handoff_embedded import gaps, seed
from moto import mock_aws


@pytest.fixture
def ecs() -> Iterator[Any]:
    with mock_aws():
        undo = gaps.install_ecs_task_definitions(seed.ACCOUNT_ID)
        try:
            yield boto3.client("ecs", region_name=seed.REGION)
        finally:
            undo()


def register(ecs: Any, family: str, **container: Any) -> str:
    definition = {"name": "app", "image": "nginx:1", "memory": 128, **container}
    return str(
        ecs.register_task_definition(family=family, containerDefinitions=[definition])["taskDefinition"][
            "taskDefinitionArn"
        ]
    )


def revisions(arns: list[str]) -> list[str]:
    return [a.rsplit("/", 1)[-1] for a in arns]


def test_list_task_definitions_honours_sort_desc(ecs: Any) -> None:
    # GIVEN three revisions of a family  WHEN listed newest first
    for _ in range(3):
        register(ecs, "api")
    listed = ecs.list_task_definitions(familyPrefix="api", sort="DESC")["taskDefinitionArns"]
    # THEN the newest comes first (moto alone returns the oldest first whatever sort says)
    assert revisions(listed) == ["api:3", "api:2", "api:1"]
    assert revisions(ecs.list_task_definitions(familyPrefix="api")["taskDefinitionArns"]) == ["api:1", "api:2", "api:3"]


def test_list_task_definitions_pages_with_max_results(ecs: Any) -> None:
    for _ in range(5):
        register(ecs, "api")
    first = ecs.list_task_definitions(familyPrefix="api", sort="DESC", maxResults=2)
    second = ecs.list_task_definitions(familyPrefix="api", sort="DESC", maxResults=2, nextToken=first["nextToken"])
    third = ecs.list_task_definitions(familyPrefix="api", sort="DESC", maxResults=2, nextToken=second["nextToken"])
    assert revisions(first["taskDefinitionArns"] + second["taskDefinitionArns"] + third["taskDefinitionArns"]) == [
        "api:5",
        "api:4",
        "api:3",
        "api:2",
        "api:1",
    ]
    assert "nextToken" not in third


def test_list_task_definitions_filters_by_status(ecs: Any) -> None:
    register(ecs, "api")
    second = register(ecs, "api")
    ecs.deregister_task_definition(taskDefinition=second)
    assert revisions(ecs.list_task_definitions(familyPrefix="api")["taskDefinitionArns"]) == ["api:1"]
    assert revisions(ecs.list_task_definitions(familyPrefix="api", status="INACTIVE")["taskDefinitionArns"]) == [
        "api:2"
    ]


def test_describe_returns_the_read_only_fields_aws_returns(ecs: Any) -> None:
    arn = register(
        ecs, "api", secrets=[{"name": "DB", "valueFrom": "arn:aws:ssm:ap-northeast-1:123456789012:parameter/db"}]
    )
    described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    for read_only in (
        "taskDefinitionArn",
        "revision",
        "status",
        "registeredAt",
        "registeredBy",
        "requiresAttributes",
        "compatibilities",
    ):
        assert read_only in described, read_only


def test_a_deregistered_revision_stays_describable_as_inactive(ecs: Any) -> None:
    arn = register(ecs, "api")
    ecs.deregister_task_definition(taskDefinition=arn)
    described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
    assert described["status"] == "INACTIVE"
    assert "deregisteredAt" in described


def test_a_bare_family_describes_its_newest_active_revision(ecs: Any) -> None:
    register(ecs, "api")
    newest = register(ecs, "api")
    ecs.deregister_task_definition(taskDefinition=newest)
    assert ecs.describe_task_definition(taskDefinition="api")["taskDefinition"]["revision"] == 1


def test_an_ec2_container_with_only_memory_reservation_registers(ecs: Any) -> None:
    # GIVEN an EC2 task definition whose container sets only a soft limit (valid in AWS)
    registered = ecs.register_task_definition(
        family="batch",
        requiresCompatibilities=["EC2"],
        containerDefinitions=[{"name": "app", "image": "nginx:1", "memoryReservation": 256}],
    )["taskDefinition"]
    assert registered["containerDefinitions"][0]["memoryReservation"] == 256


def test_a_container_with_no_memory_at_all_is_still_refused(ecs: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        ecs.register_task_definition(
            family="batch", requiresCompatibilities=["EC2"], containerDefinitions=[{"name": "app", "image": "nginx:1"}]
        )
