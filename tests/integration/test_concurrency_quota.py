"""The stack deploys on any account: it reserves no concurrency unless asked, and the embedded AWS refuses, as
Lambda does, a reservation that would leave fewer than 100 unreserved executions under the account's quota."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from ecs_handoff_embedded import gaps, provision, seed
from moto import mock_aws

from tests.helpers import ROOT

QUOTA = {"value": 1000}


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", seed.REGION)
    with mock_aws():
        undo = gaps.install_concurrency_quota(lambda: QUOTA["value"])
        try:
            session = boto3.session.Session(region_name=seed.REGION)
            seed.seed(session, "dev")
            yield session
        finally:
            undo()
            QUOTA["value"] = 1000


def create(session: Any, **parameters: str) -> provision.Stack:
    return provision.provision(session, ROOT, "handoff-dev", {"Env": "dev", **parameters}, seed.ACCOUNT_ID, seed.REGION)


def test_the_stack_reserves_nothing_by_default_so_a_new_account_with_a_quota_of_10_takes_it(account: Any) -> None:
    QUOTA["value"] = 10
    stack = create(account)
    functions = account.client("lambda").list_functions()["Functions"]
    # every function of the template was created (the count comes from the template, not from this test)
    assert len(functions) == len(stack.functions) == len(list((ROOT / "functions").glob("*/app.py")))
    from moto.awslambda.models import lambda_backends

    backend = lambda_backends[seed.ACCOUNT_ID][seed.REGION]
    for fn in functions:  # None: no reservation (0 would stop the function from running at all)
        assert backend.get_function(fn["FunctionName"]).reserved_concurrency is None, fn["FunctionName"]


def test_a_reservation_that_leaves_fewer_than_100_unreserved_fails_the_stack(account: Any) -> None:
    # GIVEN an account whose quota is 10, and a stack asked to reserve 20 per function
    QUOTA["value"] = 10
    # WHEN it is created  THEN it fails with Lambda's reason
    with pytest.raises(Exception, match="UnreservedConcurrentExecution below its minimum value of \\[100\\]"):
        create(account, ReservedConcurrency="20")


def test_a_reservation_the_quota_allows_is_applied(account: Any) -> None:
    create(account, ReservedConcurrency="20")
    fn = account.client("lambda").get_function_concurrency(FunctionName="handoff-dev-deploy")
    assert fn["ReservedConcurrentExecutions"] == 20
