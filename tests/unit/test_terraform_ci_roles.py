"""The Terraform example gives each service's CI a role of its own: api's CI cannot upload worker's metadata."""

from __future__ import annotations

from tests.unit.terraform_example import REGISTRY, SERVICE, TF, blocks, load, load_module, unquote


def test_terraform_each_service_creates_its_own_ci_role_and_attaches_its_policy_to_it() -> None:
    # GIVEN the service module
    resources = blocks(load(SERVICE / "main.tf"), "resource")
    # THEN it creates the CI role itself, named after the service, and the CI policy goes on that role only
    role = resources[("aws_iam_role", "ci")]
    assert unquote(role["name"]) == "handoff-${var.env}-${var.service_id}-ci"
    assert unquote(role["assume_role_policy"]) == "${var.ci_assume_role_policy}"
    assert unquote(resources[("aws_iam_role_policy", "ci")]["role"]) == "${aws_iam_role.ci.name}"
    assert ("ci_role_name",) not in blocks(load(SERVICE / "variables.tf"), "variable")


def test_terraform_no_two_services_share_a_ci_trust() -> None:
    # GIVEN the example's services that handoff-service creates, with their CI roles
    root = load(TF / "main.tf")
    modules = {
        name[0]: unquote(body["ci_assume_role_policy"])
        for name, body in blocks(root, "module").items()
        if unquote(body["source"]) == "./modules/handoff-service"
    }
    # THEN each names its own trust policy, and each trust admits one repository (OIDC sub)
    assert modules == {
        "api": '${data.aws_iam_policy_document.ci_trust["api"].json}',
        "worker": '${data.aws_iam_policy_document.ci_trust["worker"].json}',
        "web": '${data.aws_iam_policy_document.ci_trust["web"].json}',
    }
    trust = blocks(root, "data")[("aws_iam_policy_document", "ci_trust")]
    subjects = {unquote(k): unquote(v) for k, v in trust["for_each"].items()}
    assert set(subjects) == set(modules) and len(set(subjects.values())) == len(subjects)
    conditions = {unquote(c["variable"]): c for c in trust["statement"][0]["condition"]}
    assert [unquote(v) for v in conditions["token.actions.githubusercontent.com:sub"]["values"]] == ["${each.value}"]


def test_terraform_registry_only_module_creates_no_role_and_no_policy() -> None:
    # GIVEN the module for services that stay in their team's Terraform
    resources = blocks(load_module(REGISTRY), "resource")
    # THEN it writes the registry entry and nothing else: no CI role, no policy, no rights of its own
    assert list(resources) == [("aws_ssm_parameter", "entry")]
