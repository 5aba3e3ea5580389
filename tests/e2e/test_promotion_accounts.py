"""A promotion across two embedded accounts (`handoff local up --account-per-env`): dev in one account, prod
in another, each with its own ECR, KMS key, bucket and stack, through the real ASL. The scenario runs in a
process of its own (tests/e2e/across_accounts.py), since an embedded AWS is process-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def across() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HANDOFF_", "MOTO_"))}
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.across_accounts"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    said: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return said


def test_promotion_accounts_each_environment_has_its_own(across: dict[str, Any]) -> None:
    assert across["accounts"] == {"dev": "123456789012", "prod": "210987654321"}
    assert across["source"]["outcome"] == "SUCCEEDED"


def test_promotion_accounts_a_digest_missing_in_the_target_ecr_says_how_to_get_it_there(across: dict[str, Any]) -> None:
    [problem] = across["missing"]["refused"]
    assert across["missing"]["code"] == 1
    assert "is not in 210987654321.dkr.ecr.ap-northeast-1.amazonaws.com/api" in problem
    assert "ECR replication from account 123456789012" in problem and "push the same manifest" in problem


def test_promotion_accounts_prod_deploys_dev_s_digest_after_its_approvers(across: dict[str, Any]) -> None:
    # GIVEN the same manifest in prod's ECR  WHEN promoted with prod's profile
    assert across["promoted"]["code"] == 0, across["promoted"]["err"]
    [image] = across["promoted"]["images"]
    assert image["image"] == f"210987654321.dkr.ecr.ap-northeast-1.amazonaws.com/api@{across['digest']}"
    # THEN prod verified dev's statement with dev's public key (no call to dev's account) and asked its approvers
    waiting = across["waiting"]
    assert waiting["outcome"] == "AWAITING_APPROVAL", waiting["reason"]
    assert waiting["promoted_from"]["account"] == "123456789012"
    assert waiting["promoted_from"]["deployment_id"] == across["source"]["id"]
    # AND, approved, prod runs exactly that digest from its own registry
    deployed = across["deployed"]
    assert deployed["outcome"] == "SUCCEEDED", deployed["reason"]
    assert deployed["images"]["app-container"] == image["image"]
    assert across["denials"] == []  # every function's calls stayed within its own account's role


def test_promotion_accounts_other_digests_with_dev_s_statement_are_refused(across: dict[str, Any]) -> None:
    refused = across["other_digests"]
    assert refused["outcome"] == "INVALID"
    assert refused["reason"].startswith("the promotion from dev is refused: container 'app-container' is uploaded as")
