"""examples/terraform parses, takes only arguments the AWS provider knows, and the registry entry it writes is one
handoff's intake accepts."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from ecs_handoff.models import SERVICE_ID_PATTERN, ServiceConfig

from tests.helpers import ROOT
from tests.unit.terraform_example import ENVIRONMENT, REGISTRY, SERVICE, TF, blocks, load, load_module, unquote

# The AWS provider's schema, trimmed to the resource and data types the example uses (written by
# `python -m tests.unit.test_terraform <terraform providers schema -json output> <provider version>`,
# after `terraform init` of a copy of examples/terraform).
SCHEMA = Path(__file__).with_name("terraform_aws_schema.json")
META_ARGUMENTS = {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}


def hcl_keys(body: dict[str, Any]) -> set[str]:
    """The arguments and blocks of a parsed block, without python-hcl2's own markers."""
    return {k for k in body if k not in ("__is_block__", "__comments__")}


class Scope:
    """Enough of Terraform's evaluation for the example: var.*, local.*, module outputs and resource
    attributes, in one module instance (the root, or a module call with its arguments)."""

    def __init__(self, directory: Path = TF, args: dict[str, Any] | None = None, caller: Scope | None = None):
        self.directory = directory
        self.doc = load_module(directory)
        self.args = args or {}
        self.caller = caller
        self.locals = {k: v for entry in self.doc.get("locals", []) for k, v in entry.items()}
        self.variables = blocks(self.doc, "variable")

    def module(self, name: str) -> Scope:
        call = blocks(self.doc, "module")[(name,)]
        return Scope((self.directory / unquote(call["source"])).resolve(), call, self)

    def output(self, name: str) -> Any:
        return self.resolve(blocks(self.doc, "output")[(name,)]["value"])

    def ref(self, name: str) -> Any:
        parts = name.split(".")
        if parts[0] == "var":
            if parts[1] in self.args:
                assert self.caller is not None
                return self.caller.resolve(self.args[parts[1]])
            variable = self.variables[(parts[1],)]
            assert "default" in variable, f"{self.directory.name}: var.{parts[1]} is required and not passed"
            return self.resolve(variable["default"])
        if parts[0] == "local":
            return self.resolve(self.locals[parts[1]])
        if parts[0] == "module":
            return self.module(parts[1]).output(parts[2])
        if parts[0] == "data":  # what AWS answers: left as the reference
            return "${" + name + "}"
        resource = blocks(self.doc, "resource")[(parts[0], parts[1])]
        if parts[0] == "aws_ecs_task_definition" and parts[2] == "arn":  # computed by AWS: the first revision
            return f"arn:aws:ecs:ap-northeast-1:123456789012:task-definition/{self.resolve(resource['family'])}:1"
        return self.resolve(resource[parts[2]])

    def resolve(self, value: Any) -> Any:
        value = unquote(value)
        if isinstance(value, dict):
            return {unquote(k): self.resolve(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, str):
            return value
        whole = re.fullmatch(r"\$\{([\w.]+)\}", value)
        if whole:
            return self.ref(whole.group(1))
        return re.sub(r"\$\{([\w.]+)\}", lambda m: str(self.ref(m.group(1))), value)


def registry_scope(*path: str) -> Scope:
    """The registry module's instance reached through the root's module calls, e.g. ("api", "registry")."""
    scope = Scope()
    for name in path:
        scope = scope.module(name)
    assert scope.directory == REGISTRY.resolve()
    return scope


def registry_entry(*path: str) -> dict[str, Any]:
    scope = registry_scope(*path)
    entry = scope.resolve(scope.locals["registry_entry"])
    assert isinstance(entry, dict)
    return entry


@pytest.mark.parametrize("path", sorted(TF.rglob("*.tf")), ids=lambda p: str(p.relative_to(TF)))
def test_terraform_files_parse(path: Path) -> None:
    assert load(path)


def test_terraform_registry_entry_has_every_field_the_model_knows() -> None:
    keys = hcl_keys(load(REGISTRY / "main.tf")["locals"][0]["registry_entry"])
    assert keys == set(ServiceConfig.model_fields)


# What the stg account answers for the example's data.aws_kms_public_key.stg_promotion (a P-256 public key).
STG_KEY_ARN = "arn:aws:kms:ap-northeast-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
STG_PUBLIC_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def with_aws_answers(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with the stg key's ARN and public key where the example reads them from stg's account."""
    promotion = entry.get("promotion")
    if promotion:
        assert promotion["key_id"] == "${data.aws_kms_public_key.stg_promotion.arn}"
        assert promotion["public_key"] == "${data.aws_kms_public_key.stg_promotion.public_key_pem}"
        entry = {**entry, "promotion": {**promotion, "key_id": STG_KEY_ARN, "public_key": STG_PUBLIC_KEY}}
    return entry


def test_terraform_registry_entry_validates_against_the_model() -> None:
    config = ServiceConfig.model_validate(with_aws_answers(registry_entry("api", "registry")))
    assert (config.cluster, config.service, config.task_definition) == (
        "prod",
        "api",
        "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1",
    )
    assert config.approval_required and config.approvers == ["alice@example.com", "bob@example.com"]


def test_terraform_prod_takes_api_only_as_promoted_from_stg_with_stgs_key() -> None:
    # GIVEN the example's api  THEN its entry trusts stg's promotion key, read from stg's own stack and KMS
    config = ServiceConfig.model_validate(with_aws_answers(registry_entry("api", "registry")))
    assert config.promotion is not None
    assert (config.promotion.from_env, config.promotion.soak_seconds, config.promotion.max_age_seconds) == (
        "stg",
        7200,
        3600,
    )
    data = blocks(Scope().doc, "data")
    public_key = data[("aws_kms_public_key", "stg_promotion")]
    assert unquote(public_key["key_id"]) == '${data.aws_cloudformation_stack.stg.outputs["PromotionKeyArn"]}'
    assert (
        unquote(public_key["provider"]) == "${aws.stg}"
        and unquote(data[("aws_cloudformation_stack", "stg")]["provider"]) == "${aws.stg}"
    )
    # AND worker, which has no rule, takes what CI uploads
    assert ServiceConfig.model_validate(registry_entry("worker", "registry")).promotion is None


def test_terraform_worker_keeps_its_log_router_out_of_cis_reach() -> None:
    config = ServiceConfig.model_validate(registry_entry("worker", "registry"))
    assert config.containers == ["app"]
    assert config.allowed_registries is None  # this account's ECR only


def test_terraform_existing_service_gets_an_entry_naming_its_own_service_and_base() -> None:
    # GIVEN billing, whose task definition and service stay in its team's Terraform (existing_service.tf)
    # WHEN the registry-only module writes its entry
    config = ServiceConfig.model_validate(registry_entry("billing_handoff"))
    # THEN it names the team's own service and the exact revision of the team's own task definition
    assert (config.cluster, config.service, config.task_definition) == (
        "prod",
        "billing",
        "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-billing:1",
    )
    assert config.approval_required and config.approvers == ["alice@example.com", "bob@example.com"]


def test_terraform_registry_parameter_is_where_the_intake_reads() -> None:
    registry = blocks(load(REGISTRY / "main.tf"), "resource")[("aws_ssm_parameter", "entry")]
    assert unquote(registry["name"]) == "/handoff/${var.env}/services/${var.service_id}"
    assert registry["value"] == "${jsonencode(local.registry_entry)}"
    for path in (("api", "registry"), ("worker", "registry"), ("billing_handoff",)):
        scope = registry_scope(*path)
        assert SERVICE_ID_PATTERN.match(scope.ref("var.service_id"))
        assert scope.resolve(registry["name"]) == f"/handoff/prod/services/{scope.ref('var.service_id')}"


def test_terraform_service_module_writes_its_entry_with_the_registry_module_passing_every_setting() -> None:
    # GIVEN the registry module's variables and the service module's call of it
    service = load_module(SERVICE)
    call = blocks(service, "module")[("registry",)]
    settings = {name for (name,) in blocks(load(REGISTRY / "variables.tf"), "variable")}
    # THEN every setting the registry module takes is passed through from the service module's own variable,
    # but the service and base, which are the module's own resources
    assert unquote(call["source"]) == "../handoff-registry-entry"
    assert hcl_keys(call) - {"source"} == settings
    own = {"service_name": "${aws_ecs_service.this.name}", "task_definition_arn": "${aws_ecs_task_definition.base.arn}"}
    assert {k: call[k] for k in own} == own
    assert all(call[name] == f"${{var.{name}}}" for name in settings - set(own))
    assert settings - set(own) <= {name for (name,) in blocks(service, "variable")}
    # AND the service module writes no entry of its own
    assert not [k for k in blocks(service, "resource") if k[0] == "aws_ssm_parameter"]


def test_terraform_service_module_moves_its_old_parameter_into_the_registry_module() -> None:
    # GIVEN state written by the service module before it used the registry module
    [moved] = load(SERVICE / "main.tf")["moved"]
    # THEN the parameter moves in state to the registry module's resource, instead of being destroyed and
    # created again (a moment without an entry would refuse uploads)
    assert (moved["from"], moved["to"]) == (
        "${aws_ssm_parameter.registry}",
        "${module.registry.aws_ssm_parameter.entry}",
    )
    assert ("aws_ssm_parameter", "entry") in blocks(load(REGISTRY / "main.tf"), "resource")


def ecs_services() -> list[tuple[Scope, str, dict[str, Any]]]:
    """Every aws_ecs_service of the example, with the module instance it is declared in."""
    root = Scope()
    calls = blocks(root.doc, "module").items()
    scopes = [root, *(root.module(n) for (n,), call in calls if unquote(call["source"]) == "./modules/handoff-service")]
    return [
        (scope, label, body)
        for scope in scopes
        for (kind, label), body in blocks(scope.doc, "resource").items()
        if kind == "aws_ecs_service"
    ]


def test_terraform_every_service_keeps_handoffs_revision_and_has_circuit_breaker() -> None:
    services = ecs_services()
    assert sorted(label for _, label, _ in services) == ["billing", "this", "this", "this"]  # billing, api, worker, web
    for _, label, service in services:
        [lifecycle] = service["lifecycle"]
        assert "task_definition" in lifecycle["ignore_changes"], label
        breaker = service["deployment_circuit_breaker"][0]
        assert breaker["enable"] is True and breaker["rollback"] is True, label


def test_terraform_every_service_carries_the_tag_handoffs_roles_and_doctor_require() -> None:
    from ecs_handoff_cli.doctor import MANAGED_TAG
    from ecs_handoff_embedded.provision import load_template

    # GIVEN the tag template.yaml's UpdateService permission requires
    conditions = [
        statement.get("Condition", {})
        for resource in load_template(ROOT / "template.yaml")["Resources"].values()
        for policy in resource.get("Properties", {}).get("Policies", []) or []
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        if isinstance(statement, dict) and statement.get("Action") == "ecs:UpdateService"
    ]
    assert len(conditions) >= 2 and all(
        list(c["StringEquals"]) == [f"aws:ResourceTag/{MANAGED_TAG}"] for c in conditions
    ), conditions
    # WHEN each service's tags are evaluated, the service module's and the team's own (existing_service.tf)
    for scope, label, service in ecs_services():
        tags = unquote(service["tags"])
        match = re.fullmatch(r"\$\{merge\((.+), module\.(\w+)\.service_tags\)\}", tags)
        # THEN each merges the registry module's service_tags, which are handoff:env = <env>
        assert match, f"{label}: tags must merge module.<registry>.service_tags: {tags}"
        registry = scope.module(match.group(2))
        assert registry.directory == REGISTRY.resolve()
        assert registry.output("service_tags") == {MANAGED_TAG: "prod"}
        assert registry.ref("var.service_name") == scope.resolve(service["name"]), label  # its own service's entry


def test_terraform_service_leaves_its_task_count_to_the_scalable_target() -> None:
    # GIVEN the service module
    resources = blocks(load(SERVICE / "main.tf"), "resource")
    [lifecycle] = resources[("aws_ecs_service", "this")]["lifecycle"]
    # THEN Terraform sets the task count only when it creates the service: after that the scalable target's
    # bounds (autoscaling's, or desired_count as both) decide it, so an apply does not undo a scale-out
    assert lifecycle["ignore_changes"] == ["task_definition", "desired_count"]
    target = resources[("aws_appautoscaling_target", "this")]
    assert "count" not in target and "for_each" not in target
    assert (unquote(target["service_namespace"]), unquote(target["scalable_dimension"])) == (
        "ecs",
        "ecs:service:DesiredCount",
    )
    assert unquote(target["resource_id"]) == "service/${var.cluster_name}/${aws_ecs_service.this.name}"
    locals_ = load(SERVICE / "main.tf")["locals"][0]
    assert locals_["min_capacity"] == "${var.autoscaling == null ? var.desired_count : var.autoscaling.min_capacity}"
    assert locals_["max_capacity"] == "${var.autoscaling == null ? var.desired_count : var.autoscaling.max_capacity}"
    assert (target["min_capacity"], target["max_capacity"]) == ("${local.min_capacity}", "${local.max_capacity}")


def test_terraform_scaling_policies_track_the_metrics_application_auto_scaling_defines_for_ecs() -> None:
    # GIVEN the service module's target tracking policies, one per metric given a target
    service = load(SERVICE / "main.tf")
    policy = blocks(service, "resource")[("aws_appautoscaling_policy", "this")]
    assert policy["for_each"] == "${local.scaling_policies}"
    assert unquote(policy["policy_type"]) == "TargetTrackingScaling"
    [configuration] = policy["target_tracking_scaling_policy_configuration"]
    [metric] = configuration["predefined_metric_specification"]
    assert metric["predefined_metric_type"] == "${each.key}"
    # THEN each key is a predefined metric type of ECS services, and only ALB requests take a resource label
    expression = unquote(service["locals"][0]["scaling_policies"])
    found = re.findall(
        r"(\w+) = \{\s*target = try\(var\.autoscaling\.(\w+), null\), resource_label = ([^}]+)\}", expression
    )
    metrics = {metric: target for metric, target, _ in found}
    assert metrics == {
        "ECSServiceAverageCPUUtilization": "cpu_target",
        "ECSServiceAverageMemoryUtilization": "memory_target",
        "ALBRequestCountPerTarget": "request_count_target",
    }
    labels = {metric: label for metric, _, label in found}
    assert labels["ECSServiceAverageCPUUtilization"] == labels["ECSServiceAverageMemoryUtilization"] == "null"
    assert labels["ALBRequestCountPerTarget"] == "try(var.autoscaling.request_count_resource_label, null)"
    autoscaling = blocks(load(SERVICE / "variables.tf"), "variable")[("autoscaling",)]
    attributes = dict(re.findall(r"(\w+) = (\w+)\(?", autoscaling["type"].removeprefix("${object({")))
    assert all(attributes[target] == "optional" for target in metrics.values()), attributes


def test_terraform_api_example_sends_alb_traffic_to_a_container_and_port_its_base_has() -> None:
    # GIVEN the api service's load balancer attachment and autoscaling in the example
    api = Scope().module("api")
    [attachment] = api.ref("var.load_balancers")
    containers = {c["name"]: c for c in api.ref("var.container_definitions")}
    # THEN the container serving the target group exists in the base and exposes that port, so every revision
    # handoff registers from it (images change, names and ports do not) stays attached
    assert attachment["container_name"] in containers
    assert {"containerPort": attachment["container_port"]} in containers[attachment["container_name"]]["portMappings"]
    autoscaling = api.ref("var.autoscaling")
    assert autoscaling["min_capacity"] <= autoscaling["max_capacity"]
    assert autoscaling["request_count_resource_label"] == (
        "${data.aws_lb.public.arn_suffix}/${data.aws_lb_target_group.api.arn_suffix}"
    )


def test_terraform_worker_example_runs_on_capacity_providers_the_cluster_has() -> None:
    # GIVEN the worker's capacity provider strategy and the cluster's capacity providers
    root = Scope()
    worker = root.module("worker")
    strategy = worker.ref("var.capacity_provider_strategy")
    associated = blocks(root.doc, "resource")[("aws_ecs_cluster_capacity_providers", "prod")]
    # THEN each provider it names is associated with the cluster, and the module is called after that
    assert {s["capacity_provider"] for s in strategy} <= set(root.resolve(associated["capacity_providers"]))
    assert blocks(root.doc, "module")[("worker",)]["cluster_name"] == (
        "${aws_ecs_cluster_capacity_providers.prod.cluster_name}"
    )
    # AND the service takes the strategy instead of a launch type (ECS refuses both)
    service = blocks(load(SERVICE / "main.tf"), "resource")[("aws_ecs_service", "this")]
    assert service["launch_type"] == '${length(var.capacity_provider_strategy) == 0 ? "FARGATE" : null}'
    [dynamic] = [d for d in service["dynamic"] if '"capacity_provider_strategy"' in d]
    assert dynamic['"capacity_provider_strategy"']["for_each"] == "${var.capacity_provider_strategy}"


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
    root = Scope()
    environment_approvers = set(root.module("prod").ref("var.approvers"))
    for path in (("api", "registry"), ("worker", "registry"), ("billing_handoff",)):
        assert set(registry_entry(*path)["approvers"]) <= environment_approvers, path


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
    assert granted("oncall") == (
        ["execute-api:Invoke"],
        [f"{base}/{routes['DeployNow']}", f"{base}/{routes['Rollback']}"],
    )
    roles = blocks(people, "resource")
    assert {k for k in roles if k[0] == "aws_iam_role_policy"} == {
        ("aws_iam_role_policy", "approver"),
        ("aws_iam_role_policy", "oncall"),
    }
    assert not [k for k in roles if k[0] in ("aws_iam_role_policy_attachment", "aws_iam_policy")]


def test_terraform_blue_green_service_wires_ecs_to_its_listener_rules_and_handoffs_hook() -> None:
    # GIVEN web, which handoff-service makes a BLUE_GREEN service (traffic.tf and the service's dynamic blocks)
    web = Scope().module("web")
    traffic = web.resolve(web.args["traffic"])
    service = blocks(web.doc, "resource")[("aws_ecs_service", "this")]
    dynamic = [(unquote(name), body) for entry in service["dynamic"] for name, body in entry.items()]
    [configuration] = [body for name, body in dynamic if name == "deployment_configuration"]
    content = configuration["content"][0]
    [hook] = content["lifecycle_hook"]
    [_, traffic_balancer] = [body for name, body in dynamic if name == "load_balancer"]
    [advanced] = traffic_balancer["content"][0]["advanced_configuration"]
    # THEN ECS gets the strategy, handoff's hook before each production traffic shift with the stack's role, and
    # the green group, both listener rules and the role that moves their weights
    assert (
        traffic["strategy"] == "BLUE_GREEN"
        and unquote(content["strategy"]) == "${deployment_configuration.value.strategy}"
    )
    assert [unquote(s) for s in hook["lifecycle_stages"]] == ["PRE_PRODUCTION_TRAFFIC_SHIFT"]
    assert (
        traffic["hook_function_arn"] == '${data.aws_cloudformation_stack.handoff.outputs["LifecycleHookFunctionArn"]}'
    )
    assert traffic["hook_role_arn"] == '${data.aws_cloudformation_stack.handoff.outputs["LifecycleHookRoleArn"]}'
    assert unquote(advanced["production_listener_rule"]) == '${aws_lb_listener_rule.traffic["production"].arn}'
    assert unquote(advanced["test_listener_rule"]) == '${aws_lb_listener_rule.traffic["test"].arn}'
    assert unquote(advanced["alternate_target_group_arn"]) == '${aws_lb_target_group.traffic["green"].arn}'
    # AND ECS, not Terraform, owns the rules' weights once created
    rule = blocks(web.doc, "resource")[("aws_lb_listener_rule", "traffic")]
    assert rule["lifecycle"][0]["ignore_changes"] == ["action"]
    # AND the infrastructure role is ECS's, with AWS's managed policy for load balancers
    attachment = blocks(web.doc, "resource")[("aws_iam_role_policy_attachment", "ecs_infrastructure")]
    assert unquote(attachment["policy_arn"]).endswith(":policy/AmazonECSInfrastructureRolePolicyForLoadBalancers")
    # AND the stack outputs the module reads exist
    outputs = yaml_outputs()
    assert {"LifecycleHookFunctionArn", "LifecycleHookRoleArn"} <= outputs


def yaml_outputs() -> set[str]:
    from ecs_handoff_embedded.provision import load_template

    return set(load_template(ROOT / "template.yaml")["Outputs"])


def test_terraform_schema_says_where_each_type_came_from() -> None:
    # The stored schema is provider 5.100.0's (terraform providers schema -json); the types ECS's blue/green,
    # linear and canary deployments need come from a newer provider, read from @cdktf/provider-aws
    # (tools/terraform_schema_from_cdktf.py), and the file names that source for each.
    schema = json.loads(SCHEMA.read_text())
    assert schema["sources"]["resource.aws_ecs_service"].endswith(
        "generated from registry.terraform.io/hashicorp/aws 6.25.0"
    )
    service = schema["resource"]["aws_ecs_service"]["blocks"]
    assert {"strategy", "bake_time_in_minutes"} <= set(service["deployment_configuration"]["attributes"])
    assert set(service["load_balancer"]["blocks"]["advanced_configuration"]["attributes"]) == {
        "alternate_target_group_arn",
        "production_listener_rule",
        "role_arn",
        "test_listener_rule",
    }
    pin = load(TF / "versions.tf")["terraform"][0]["required_providers"][0]["aws"]["version"]
    assert unquote(pin) == ">= 6.25.0"


def trim_schema(full: dict[str, Any], version: str, used: dict[str, set[str]]) -> dict[str, Any]:
    """The provider's schema (`terraform providers schema -json`) for the types the example uses: each
    argument required, optional or computed (set by AWS only), each nested block with its minimum count."""

    def block(schema: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            name: "required" if a.get("required") else "optional" if a.get("optional") else "computed"
            for name, a in sorted(schema.get("attributes", {}).items())
        }
        nested = {
            name: {"min_items": b.get("min_items", 0), **block(b["block"])}
            for name, b in sorted(schema.get("block_types", {}).items())
        }
        return {"attributes": attributes, "blocks": nested}

    [(provider, schemas)] = full["provider_schemas"].items()
    return {
        "provider": f"{provider} {version}",
        "resource": {t: block(schemas["resource_schemas"][t]["block"]) for t in sorted(used["resource"])},
        "data": {t: block(schemas["data_source_schemas"][t]["block"]) for t in sorted(used["data"])},
    }


def used_types() -> dict[str, set[str]]:
    return {
        kind: {first for path in TF.rglob("*.tf") for first, _ in blocks(load(path), kind)}
        for kind in ("resource", "data")
    }


def schema_problems(body: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """What Terraform's validate would refuse in one block: unknown or computed arguments, unknown
    blocks, missing required arguments and blocks (python-hcl2 keeps `dynamic` blocks apart)."""
    problems: list[str] = []
    present: set[str] = set()
    for key in hcl_keys(body) - META_ARGUMENTS:
        contents = body[key] if isinstance(body[key], list) else [body[key]]
        if key == "dynamic":
            named = [(unquote(name), d.get("content", [])) for entry in contents for name, d in entry.items()]
        else:
            named = [(key, contents)]
        for name, inner in named:
            present.add(name)
            if name in schema["attributes"] and key != "dynamic":
                if schema["attributes"][name] == "computed":
                    problems.append(f"{where}.{name} is computed by AWS and cannot be set")
            elif name in schema["blocks"]:
                for i, nested in enumerate(inner):
                    problems += schema_problems(nested, schema["blocks"][name], f"{where}.{name}[{i}]")
            else:
                problems.append(f"{where}: the provider has no {'block' if key == 'dynamic' else 'argument'} {name}")
    problems += [
        f"{where}: required argument {a} missing"
        for a, k in schema["attributes"].items()
        if k == "required" and a not in present
    ]
    problems += [
        f"{where}: required block {b} missing"
        for b, s in schema["blocks"].items()
        if s["min_items"] and b not in present
    ]
    return problems


def test_terraform_schema_covers_every_type_the_example_uses() -> None:
    schema = json.loads(SCHEMA.read_text())
    missing = {kind: sorted(types - set(schema[kind])) for kind, types in used_types().items()}
    assert missing == {"resource": [], "data": []}, (
        f"not in {SCHEMA.name}: {missing}; regenerate it: python -m tests.unit.test_terraform <schema.json>"
    )


@pytest.mark.parametrize("path", sorted(TF.rglob("*.tf")), ids=lambda p: str(p.relative_to(TF)))
def test_terraform_arguments_are_ones_the_aws_provider_takes(path: Path) -> None:
    # GIVEN the AWS provider's schema of every type the example uses
    schema = json.loads(SCHEMA.read_text())
    doc = load(path)
    # WHEN each resource and data block of the file is checked against it
    problems = [
        problem
        for kind in ("resource", "data")
        for (type_, label), body in blocks(doc, kind).items()
        if type_ in schema[kind]
        for problem in schema_problems(body, schema[kind][type_], f"{kind}.{type_}.{label}")
    ]
    # THEN every argument and block is one the provider knows and may be set, and none it requires is missing
    assert problems == []


def test_terraform_schema_check_refuses_a_misspelt_argument_and_a_missing_one() -> None:
    # GIVEN the scalable target, with a typo and without its required resource_id
    schema = json.loads(SCHEMA.read_text())["resource"]["aws_appautoscaling_target"]
    body = {
        "service_namespace": '"ecs"',
        "scalable_dimension": '"ecs:service:DesiredCount"',
        "min_capacty": 1,
        "max_capacity": 2,
        "arn": '"x"',
    }
    # THEN each is named
    assert sorted(schema_problems(body, schema, "t")) == [
        "t.arn is computed by AWS and cannot be set",
        "t: required argument min_capacity missing",
        "t: required argument resource_id missing",
        "t: the provider has no argument min_capacty",
    ]


if __name__ == "__main__":  # python -m tests.unit.test_terraform <terraform providers schema -json output> <version>
    import sys

    full = json.loads(Path(sys.argv[1]).read_text())
    SCHEMA.write_text(json.dumps(trim_schema(full, sys.argv[2], used_types()), indent=1, sort_keys=True) + "\n")
