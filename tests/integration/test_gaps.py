"""The embedded AWS's patches of moto (ecs_handoff_embedded.gaps): each goes through the one patch helper,
changes what it says, and its undo puts moto back exactly; the helper refuses to patch what moto does
not have (or to add what it now has); every gap names tests that exist. What each patch does is tested
where it matters (the tests the package's docstring names)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ecs_handoff_embedded import gaps
from ecs_handoff_embedded.gaps import patching
from ecs_handoff_embedded.runner import FunctionRunner

from tests.helpers import ROOT

RUNNER = FunctionRunner({})
INSTALLERS: dict[str, Callable[[], gaps.Undo]] = {
    "lambda runner": lambda: gaps.install_lambda_runner(RUNNER),
    "concurrency quota": lambda: gaps.install_concurrency_quota(lambda: 1000),
    "s3 events": lambda: gaps.install_s3_events(RUNNER, gaps.Deliveries()),
    "bucket notification read-back": gaps.install_bucket_notification_read_back,
    "ecs rollouts": lambda: gaps.install_ecs_rollouts(lambda: 1.0, lambda event: None),
    "ecs listing lag": lambda: gaps.install_ecs_listing_lag(lambda: 1.0),
    "dynamodb index lag": lambda: gaps.install_index_lag(lambda: 1.0),
    "sns filter policy lag": lambda: gaps.install_filter_policy_lag(lambda: 1.0),
    "ecs task definitions": lambda: gaps.install_ecs_task_definitions("123456789012"),
    "deployment configuration read-back": gaps.install_deployment_configuration_read_back,
    "email outbox": lambda: gaps.install_email_outbox(gaps.Outbox(Path("/nonexistent-never-written"))),
    "send task failure cause": gaps.install_send_task_failure_cause,
    "execution status events": lambda: gaps.install_execution_status_events(RUNNER, gaps.Deliveries()),
    "stop execution": gaps.install_stop_execution,
    "strict choice": gaps.install_strict_choice,
    "change calendars": lambda: gaps.install_change_calendars({}),
    "template key specs": gaps.install_template_key_specs,
    "ecs service deployments": lambda: gaps.install_ecs_deployments(lambda: 1.0, lambda event: None, lambda *a: {}),
}


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, Any]]:
    """Every (owner, attribute, what moto had there) the helper is asked to patch (None: an addition)."""
    calls: list[tuple[Any, str, Any]] = []
    real_replace, real_add = patching.replace, patching.add

    def replace(owner: Any, name: str, new: Any) -> gaps.Undo:
        calls.append((owner, name, owner.__dict__.get(name)))
        return real_replace(owner, name, new)

    def add(owner: Any, name: str, new: Any) -> gaps.Undo:
        calls.append((owner, name, None))
        return real_add(owner, name, new)

    modules = (
        gaps.awslambda,
        gaps.s3,
        gaps.ecs,
        gaps.ecs_deployments,
        gaps.sns,
        gaps.stepfunctions,
        gaps.ssm,
        gaps.dynamodb,
        gaps.kms,
    )
    for module in modules:
        for helper, fake in (("replace", replace), ("add", add)):
            if hasattr(module, helper):
                monkeypatch.setattr(module, helper, fake)
    return calls


@pytest.mark.parametrize("name", sorted(INSTALLERS))
def test_a_patch_changes_moto_through_the_helper_and_its_undo_restores_it(
    name: str, patched: list[tuple[Any, str, Any]]
) -> None:
    undo = INSTALLERS[name]()
    try:
        assert patched, f"{name} changed nothing through patching.replace or .add"
        for owner, attr, original in patched:
            assert owner.__dict__.get(attr) is not original, f"{name}: {owner.__name__}.{attr} unchanged"
    finally:
        undo()
    for owner, attr, original in patched:
        if original is None:
            assert attr not in owner.__dict__, f"{name}: {owner.__name__}.{attr} left behind"
        else:
            assert owner.__dict__[attr] is original, f"{name}: {owner.__name__}.{attr} not restored"


def test_the_helper_refuses_what_moto_does_not_have_and_to_add_what_it_has() -> None:
    class Moto:
        def known(self) -> str:
            return "moto"

    with pytest.raises(RuntimeError, match=r"^moto has no Moto\.renamed to patch: the embedded AWS needs updating$"):
        patching.replace(Moto, "renamed", lambda self: "ours")
    with pytest.raises(RuntimeError, match=r"^moto now has Moto\.known: the embedded AWS's own can go$"):
        patching.add(Moto, "known", lambda self: "ours")
    original = Moto.__dict__["known"]
    undo = patching.all_of(patching.replace(Moto, "known", lambda self: "ours"), patching.add(Moto, "new", 1))
    assert (Moto().known(), Moto.new) == ("ours", 1)  # type: ignore[attr-defined]
    undo()
    assert Moto.__dict__["known"] is original and "new" not in Moto.__dict__


def test_every_gap_names_tests_that_exist() -> None:
    doc = gaps.__doc__ or ""
    named = set(re.findall(r"\btest_\w+", doc)) - {"test_gaps"}
    assert len(re.findall(r"^ ?\d+ ", doc, re.M)) == 18, "the docstring lists 18 gaps"
    files = {p.stem for p in (ROOT / "tests").rglob("test_*.py")}
    assert named and named <= files, sorted(named - files)
