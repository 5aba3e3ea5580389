"""examples/terraform parses, and the registry entry it writes is one handoff's intake accepts."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
from ecs_handoff.models import SERVICE_ID_PATTERN, ServiceConfig

from tests.helpers import ROOT

TF = ROOT / "examples" / "terraform"
SERVICE = TF / "modules" / "handoff-service"
ENVIRONMENT = TF / "modules" / "handoff-environment"


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle))


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def blocks(doc: dict[str, Any], kind: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """{(type, name): body} for resource/data blocks, {(name,): body} for module/variable blocks."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in doc.get(kind, []):
        for first, body in entry.items():
            first = unquote(first)
            if kind in ("resource", "data"):
                for second, inner in body.items():
                    found[(first, unquote(second))] = inner
            else:
                found[(first,)] = body
    return found


class Resolver:
    """Enough of Terraform's evaluation for the example: var.*, local.*, and resource attributes."""

    def __init__(self, module: str = "api") -> None:
        self.root = load(TF / "main.tf")
        self.service = {**load(SERVICE / "main.tf"), **{"variable": load(SERVICE / "variables.tf")["variable"]}}
        self.module_args = blocks(self.root, "module")[(module,)]
        self.locals = {k: v for entry in self.service.get("locals", []) for k, v in entry.items()}
        self.variables = blocks(self.service, "variable")

    def ref(self, name: str) -> Any:
        parts = name.split(".")
        if parts[0] == "var":
            if parts[1] in self.module_args:
                return self.resolve(self.module_args[parts[1]], root=True)
            return self.resolve(self.variables[(parts[1],)]["default"])
        if parts[0] == "local":
            return self.resolve(self.locals[parts[1]])
        resource = blocks(self.service, "resource")[(parts[0], parts[1])]
        if parts[0] == "aws_ecs_task_definition" and parts[2] == "arn":  # computed by AWS: the first revision
            return f"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/{self.resolve(resource['family'])}:1"
        return self.resolve(resource[parts[2]])

    def root_ref(self, name: str) -> Any:
        if name.startswith("local."):
            root_locals = {k: v for entry in self.root.get("locals", []) for k, v in entry.items()}
            return self.resolve(root_locals[name.removeprefix("local.")], root=True)
        kind, label, attribute = name.split(".")
        return unquote(blocks(self.root, "resource")[(kind, label)][attribute])

    def resolve(self, value: Any, root: bool = False) -> Any:
        value = unquote(value)
        if isinstance(value, dict):
            return {unquote(k): self.resolve(v, root) for k, v in value.items() if k != "__is_block__"}
        if isinstance(value, list):
            return [self.resolve(v, root) for v in value]
        if not isinstance(value, str):
            return value
        whole = re.fullmatch(r"\$\{([\w.]+)\}", value)
        if whole:
            return self.root_ref(whole.group(1)) if root else self.ref(whole.group(1))
        return re.sub(r"\$\{([\w.]+)\}", lambda m: str(self.ref(m.group(1))), value)


@pytest.mark.parametrize("path", sorted(TF.rglob("*.tf")), ids=lambda p: str(p.relative_to(TF)))
def test_terraform_files_parse(path: Path) -> None:
    assert load(path)


def test_terraform_registry_entry_has_every_field_the_model_knows() -> None:
    keys = set(Resolver().locals["registry_entry"]) - {"__is_block__"}
    assert keys == set(ServiceConfig.model_fields)


def test_terraform_registry_entry_validates_against_the_model() -> None:
    resolver = Resolver()
    entry = resolver.resolve(resolver.locals["registry_entry"])
    config = ServiceConfig.model_validate(entry)
    assert (config.cluster, config.service, config.task_definition) == (
        "prod",
        "api",
        "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1",
    )
    assert config.approval_required and config.approvers == ["alice@example.com", "bob@example.com"]


def test_terraform_worker_keeps_its_log_router_out_of_cis_reach() -> None:
    resolver = Resolver("worker")
    config = ServiceConfig.model_validate(resolver.resolve(resolver.locals["registry_entry"]))
    assert config.containers == ["app"]
    assert config.allowed_registries is None  # this account's ECR only


def test_terraform_registry_parameter_is_where_the_intake_reads() -> None:
    registry = blocks(load(SERVICE / "main.tf"), "resource")[("aws_ssm_parameter", "registry")]
    assert unquote(registry["name"]) == "/handoff/${var.env}/services/${var.service_id}"
    assert registry["value"] == "${jsonencode(local.registry_entry)}"
    service_id = unquote(blocks(load(TF / "main.tf"), "module")[("api",)]["service_id"])
    assert SERVICE_ID_PATTERN.match(service_id)


def test_terraform_service_keeps_handoffs_revision_and_has_circuit_breaker() -> None:
    service = blocks(load(SERVICE / "main.tf"), "resource")[("aws_ecs_service", "this")]
    assert service["lifecycle"][0]["ignore_changes"] == ["task_definition"]
    breaker = service["deployment_circuit_breaker"][0]
    assert breaker["enable"] is True and breaker["rollback"] is True


def test_terraform_bucket_is_versioned_private_tls_only_and_sends_events() -> None:
    env = blocks(load(ENVIRONMENT / "main.tf"), "resource")
    assert unquote(env[("aws_s3_bucket_versioning", "artifacts")]["versioning_configuration"][0]["status"]) == "Enabled"
    assert env[("aws_s3_bucket_notification", "artifacts")]["eventbridge"] is True
    block = env[("aws_s3_bucket_public_access_block", "artifacts")]
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    policy = blocks(load(ENVIRONMENT / "main.tf"), "data")[("aws_iam_policy_document", "tls_only")]
    assert "aws:SecureTransport" in str(policy)


def test_terraform_ci_policy_is_put_object_on_one_key_and_ecr_push() -> None:
    ci = blocks(load(SERVICE / "main.tf"), "data")[("aws_iam_policy_document", "ci")]
    statements = {unquote(s["sid"]): s for s in ci["statement"]}
    assert set(statements) == {"UploadImageDefinitions", "PushImages", "EcrLogin"}
    upload = statements["UploadImageDefinitions"]
    assert [unquote(a) for a in upload["actions"]] == ["s3:PutObject"]
    assert [unquote(r) for r in upload["resources"]] == [
        "arn:aws:s3:::${var.bucket_name}/${var.service_id}/imagedefinitions.json.zip"
    ]
    assert all(unquote(a).startswith("ecr:") for a in statements["PushImages"]["actions"])


def evaluate(expression: str, value: str) -> str:
    """A Terraform string template of lower/sha256/substr calls on each.value, evaluated as Terraform does."""
    functions: dict[str, Any] = {
        "lower": str.lower,
        "sha256": lambda text: hashlib.sha256(text.encode()).hexdigest(),  # of the UTF-8 text, lowercase hex
        "substr": lambda text, offset, length: text[offset : offset + length],
    }

    def call(code: str) -> Any:
        code = code.strip()
        if code == "each.value":
            return value
        if code.isdigit():
            return int(code)
        match = re.fullmatch(r"(\w+)\((.*)\)", code)
        assert match is not None and match.group(1) in functions, f"not a function Terraform evaluates here: {code}"
        name, inner = match.groups()
        args: list[Any] = []
        depth = start = 0
        for i, char in enumerate(inner + ","):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 0:
                args.append(call(inner[start:i]))
                start = i + 1
        return functions[name](*args)

    return re.sub(r"\$\{([^}]+)\}", lambda m: str(call(m.group(1))), expression.replace("${var.env}", "prod"))


@pytest.mark.parametrize("address", ["alice@example.com", "Bob.Smith+ops@Example.COM"])
def test_terraform_names_each_approver_topic_as_handoff_looks_for_it(address: str) -> None:
    from ecs_handoff.approvals.channel import topic_name

    topic = blocks(load(ENVIRONMENT / "main.tf"), "resource")[("aws_sns_topic", "approver")]
    assert unquote(topic["for_each"]) == "${toset(var.approvers)}"
    assert evaluate(unquote(topic["name"]), address) == topic_name("prod", address)


def test_terraform_approver_topic_has_their_email_subscription_and_only_terraform_subscribes() -> None:
    environment = load(ENVIRONMENT / "main.tf")
    resources = blocks(environment, "resource")
    # THEN each approver's topic has one subscription: their address, by email, with no filter
    subscription = resources[("aws_sns_topic_subscription", "approver")]
    assert unquote(subscription["topic_arn"]) == "${aws_sns_topic.approver[each.value].arn}"
    assert (unquote(subscription["protocol"]), unquote(subscription["endpoint"])) == ("email", "${each.value}")
    assert "filter_policy" not in subscription
    assert [k for k in resources if k[0] == "aws_sns_topic_subscription"] == [
        ("aws_sns_topic_subscription", "approver")
    ]
    # AND its policy denies sns:Subscribe to every principal but the one Terraform runs as
    assert unquote(resources[("aws_sns_topic_policy", "approver")]["policy"]) == (
        "${data.aws_iam_policy_document.approver_topic[each.value].json}"
    )
    [statement] = blocks(environment, "data")[("aws_iam_policy_document", "approver_topic")]["statement"]
    assert (unquote(statement["effect"]), [unquote(a) for a in statement["actions"]]) == ("Deny", ["sns:Subscribe"])
    [principals] = statement["principals"]
    assert (unquote(principals["type"]), [unquote(i) for i in principals["identifiers"]]) == ("AWS", ["*"])
    [condition] = statement["condition"]
    assert (unquote(condition["test"]), unquote(condition["variable"])) == ("ArnNotEquals", "aws:PrincipalArn")
    assert [unquote(v) for v in condition["values"]] == ["${local.approver_subscriber_arn}"]


def test_terraform_every_services_approver_has_a_topic_in_the_environment() -> None:
    resolver = Resolver()
    root_modules = blocks(resolver.root, "module")
    environment_approvers = set(resolver.resolve(root_modules[("prod",)]["approvers"], root=True))
    for service in ("api", "worker"):
        service_resolver = Resolver(service)
        entry = service_resolver.resolve(service_resolver.locals["registry_entry"])
        assert set(entry["approvers"]) <= environment_approvers


def subscriber_pattern() -> str:
    variable = blocks(load(ENVIRONMENT / "variables.tf"), "variable")[("approver_subscriber_arn",)]
    [validation] = variable["validation"]
    match = re.search(r'regex\("(.+)", var\.approver_subscriber_arn\)', unquote(validation["condition"]))
    assert match is not None
    return match.group(1).replace("\\\\", "\\")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:role/terraform",
        "arn:aws:iam::123456789012:role/platform/terraform-apply",  # a role with a path
        "arn:aws:iam::123456789012:user/terraform",
        "arn:aws-cn:iam::123456789012:role/terraform",
    ],
)
def test_terraform_approver_subscriber_may_be_an_iam_role_or_user(arn: str) -> None:
    assert re.fullmatch(subscriber_pattern(), arn)


@pytest.mark.parametrize(
    "arn",
    [
        # aws:PrincipalArn of a role session is the role's iam ARN: an sts ARN would match nobody
        "arn:aws:sts::123456789012:assumed-role/terraform/session",
        "arn:aws:sts::123456789012:federated-user/terraform",
        "arn:aws:iam::123456789012:group/platform",
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/*",
        "arn:aws:iam::12345678901:role/terraform",
    ],
)
def test_terraform_approver_subscriber_refuses_sts_group_root_and_wildcard_arns(arn: str) -> None:
    assert re.fullmatch(subscriber_pattern(), arn) is None


def test_terraform_ci_policy_is_the_one_handoff_upload_print_ci_shows() -> None:
    from ecs_handoff_cli.release_logic import ci_policy

    ci = blocks(load(SERVICE / "main.tf"), "data")[("aws_iam_policy_document", "ci")]
    names = {"${var.bucket_name}": "BUCKET", "${var.service_id}": "SERVICE", "${var.ecr_repository_arn}": "REPO"}

    def fill(value: str) -> str:
        for placeholder, stand_in in names.items():
            value = value.replace(placeholder, stand_in)
        return value

    terraform = {
        unquote(s["sid"]): (
            unquote(s.get("effect", "Allow")),
            sorted(fill(unquote(a)) for a in s["actions"]),
            sorted(fill(unquote(r)) for r in s["resources"]),
        )
        for s in ci["statement"]
    }

    def listed(value: str | list[str]) -> list[str]:
        return sorted([value] if isinstance(value, str) else value)

    printed = {
        s["Sid"]: (s["Effect"], listed(s["Action"]), listed(s["Resource"]))
        for s in ci_policy("BUCKET", "SERVICE", "REPO")["Statement"]
    }
    assert printed == terraform


def test_terraform_people_hold_exactly_execute_api_invoke_on_their_operator_api_routes() -> None:
    # GIVEN the operator API's routes in template.yaml, as IAM resources (a path parameter: any value)
    from ecs_handoff_embedded.provision import load_template

    function = load_template(ROOT / "template.yaml")["Resources"]["OperatorApiFunction"]["Properties"]
    parameter = re.compile(r"\{\w+\}")
    routes = {
        name: event["Properties"]["Method"] + parameter.sub("*", event["Properties"]["Path"])
        for name, event in function["Events"].items()
    }
    assert all(event["Properties"]["Auth"] == {"Authorizer": "AWS_IAM"} for event in function["Events"].values())
    # WHEN the example's approver and on-call roles' policies are read
    people = load(TF / "people.tf")
    documents = blocks(people, "data")
    [local] = [entry for entry in people["locals"] if "operator_api" in entry]
    base = unquote(local["operator_api"])
    assert base.endswith("/$default") and base.startswith("arn:aws:execute-api:")

    def granted(name: str) -> tuple[list[str], list[str]]:
        [statement] = documents[("aws_iam_policy_document", name)]["statement"]
        actions = [unquote(a) for a in statement["actions"]]
        resources = [unquote(r).replace("${local.operator_api}", base) for r in statement["resources"]]
        return actions, resources

    # THEN each holds execute-api:Invoke and nothing else, on exactly its routes
    assert granted("approver") == (
        ["execute-api:Invoke"],
        [f"{base}/{routes['Approve']}", f"{base}/{routes['Reject']}"],
    )
    assert granted("oncall") == (["execute-api:Invoke"], [f"{base}/{routes['DeployNow']}"])
    roles = blocks(people, "resource")
    assert {k for k in roles if k[0] == "aws_iam_role_policy"} == {
        ("aws_iam_role_policy", "approver"),
        ("aws_iam_role_policy", "oncall"),
    }
    assert not [k for k in roles if k[0] in ("aws_iam_role_policy_attachment", "aws_iam_policy")]
