"""`handoff doctor`: checks an installed environment, item by item, and says how to fix what is wrong.

Every check reads the account as it is (CloudFormation, S3, SSM, ECS, SNS, Secrets Manager); the IAM
check asks IAM's own policy simulator (iam:SimulatePrincipalPolicy) whether each function's role allows
each call the function makes, on the resources this environment has."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client
from ecs_handoff.errors import ArtifactRejected, HandoffError, NotFound

from ecs_handoff_cli import show
from ecs_handoff_cli.exits import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from ecs_handoff.models import ServiceConfig
    from mypy_boto3_iam.type_defs import ContextEntryTypeDef

REQUIRED_OUTPUTS = (
    "ArtifactBucketName",
    "RegistryPrefix",
    "DeploymentsTableName",
    "StateTableName",
    "ApprovalsTableName",
    "StateMachineArn",
    "NotificationsTopicArn",
    "ApprovalBaseUrl",
    "OperatorApiUrl",
    "OperatorApiId",
)


@dataclass
class Finding:
    item: str
    ok: bool
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"item": self.item, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass
class Permission:
    """One call a function makes, as IAM authorizes it."""

    action: str
    resource: str = "*"
    context: dict[str, str] = field(default_factory=dict)


@dataclass
class Install:
    env: str
    stack: str
    account: str
    region: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)
    services: dict[str, Any] = field(default_factory=dict)  # service id -> ServiceConfig
    secret: str | None = None  # the link-signing secret, once signing_secret() has looked
    bases: dict[str, dict[str, Any]] = field(default_factory=dict)  # service id -> base task definition

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def table(self, output: str, index: str = "") -> str:
        return self.arn("dynamodb", f"table/{self.outputs[output]}" + (f"/index/{index}" if index else ""))


def cmd_doctor(args: argparse.Namespace) -> int:
    findings = diagnose(args.env)
    problems = [f for f in findings if not f.ok]
    if args.json:
        show.print_json({"env": args.env, "ok": not problems, "findings": [f.as_json() for f in findings]})
    else:
        for finding in findings:
            print(f"{'ok     ' if finding.ok else 'PROBLEM'}  {finding.item}: {finding.detail}")
            if finding.fix:
                print(f"         fix: {finding.fix}")
        print(f"{len(findings) - len(problems)} ok, {len(problems)} problem(s)")
    return EXIT_OK if not problems else EXIT_FAILED


def _findings_of(check: Callable[[Install], Iterator[Finding]], install: Install) -> list[Finding]:
    """A check that cannot even look (access denied, throttled) is itself a problem, not a crash."""
    try:
        return list(check(install))
    except HandoffError as exc:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        return [Finding(name, False, f"could not check: {exc}", "run doctor with credentials that can read it")]


def diagnose(env: str) -> list[Finding]:
    install, findings = load_install(env)
    if install is None:
        return findings
    for check in (
        check_bucket,
        check_event_rules,
        check_registry,
        check_approver_subscriptions,
        check_signing_secret,
        check_operator_api,
        check_function_permissions,
    ):
        findings += _findings_of(check, install)
    return findings


def load_install(env: str) -> tuple[Install | None, list[Finding]]:
    stack = f"handoff-{env}"
    cfn = client("cloudformation")
    try:
        with aws_call(f"reading stack {stack}"):
            described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except HandoffError as exc:
        return None, [
            Finding(f"stack {stack}", False, str(exc), f"deploy it: sam build && sam deploy --config-env {env}")
        ]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    missing = [o for o in REQUIRED_OUTPUTS if o not in outputs]
    status = described.get("StackStatus", "")
    healthy = status.endswith("_COMPLETE") and "ROLLBACK" not in status and not missing
    finding = Finding(
        f"stack {stack}",
        healthy,
        f"{status}, {len(outputs)} outputs" + (f"; missing outputs: {', '.join(missing)}" if missing else ""),
        "" if healthy else f"redeploy with this version of handoff: sam deploy --config-env {env}",
    )
    if missing:
        return None, [finding]
    with aws_call(f"listing the resources of {stack}"):
        summaries = []
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
            summaries += page["StackResourceSummaries"]
    with aws_call("reading the caller's account"):
        account = client("sts").get_caller_identity()["Account"]
    install = Install(
        env=env,
        stack=stack,
        account=str(account),
        region=str(cfn.meta.region_name),
        outputs=outputs,
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        resources={r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId", "")) for r in summaries},
    )
    return install, [finding]


def check_bucket(install: Install) -> Iterator[Finding]:
    bucket = install.outputs["ArtifactBucketName"]
    s3 = client("s3")
    with aws_call(f"reading versioning of bucket {bucket}"):
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    yield Finding(
        f"bucket {bucket} versioning",
        versioning == "Enabled",
        f"versioning is {versioning}",
        ""
        if versioning == "Enabled"
        else 'aws_s3_bucket_versioning { versioning_configuration { status = "Enabled" } }',
    )
    with aws_call(f"reading notifications of bucket {bucket}"):
        notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
    on = "EventBridgeConfiguration" in notifications
    yield Finding(
        f"bucket {bucket} EventBridge notifications",
        on,
        "on" if on else "off: uploads never reach handoff",
        "" if on else "aws_s3_bucket_notification { bucket = ...; eventbridge = true }",
    )


# The EventBridge rules the stack makes, and the function each must invoke: without them uploads are never
# seen, an execution that ends unexpectedly is never recorded, every verdict waits for the fallback look, or
# a deployment whose status event was lost stays unfinished.
EVENT_RULES = {
    "artifact-uploaded": ("intake", "uploads never reach handoff"),
    "execution-ended": ("finalize", "a stopped or failed execution is never recorded"),
    "ecs-deployment-state": ("rollout-event", "ECS's verdicts never arrive; every rollout waits for the fallback look"),
    "sweeper": ("sweeper", "a deployment whose status event is lost stays unfinished and keeps its lock"),
}


def check_event_rules(install: Install) -> Iterator[Finding]:
    events = client("events")
    for suffix, (function, without) in EVENT_RULES.items():
        rule = f"handoff-{install.env}-{suffix}"
        target = f":function:handoff-{install.env}-{function}"
        with aws_call(f"reading EventBridge rule {rule}"):
            try:
                state = str(events.describe_rule(Name=rule).get("State", "?"))
            except events.exceptions.ResourceNotFoundException:
                state = "missing"
            targets = [] if state == "missing" else events.list_targets_by_rule(Rule=rule).get("Targets", [])
        aimed = any(str(t.get("Arn", "")).endswith(target) for t in targets)
        ok = state == "ENABLED" and aimed
        detail = f"{state}, invokes handoff-{install.env}-{function}" if ok else f"{state}: {without}"
        if state == "ENABLED" and not aimed:
            detail = f"ENABLED but does not invoke handoff-{install.env}-{function}: {without}"
        fix = "" if ok else f"redeploy the stack (sam deploy --config-env {install.env}); it owns this rule"
        if state == "DISABLED":
            fix = f"aws events enable-rule --name {rule}"
        yield Finding(f"event rule {rule}", ok, detail, fix)


def check_registry(install: Install) -> Iterator[Finding]:
    from ecs_handoff.aws.registry import list_service_ids

    prefix = install.outputs["RegistryPrefix"]
    ids = list_service_ids(prefix)
    yield Finding(
        f"registry {prefix}",
        bool(ids),
        f"{len(ids)} services: {', '.join(ids)}" if ids else "no services registered",
        "" if ids else "add a handoff-service module per service (examples/terraform)",
    )
    for service_id in ids:
        yield from _service_findings(install, service_id)


def _service_findings(install: Install, service_id: str) -> Iterator[Finding]:
    """One registered service: its entry, its base task definition and roles, its ECS service. What it finds
    (the entry, the base) is kept on install for the IAM check."""
    from ecs_handoff.aws import ecs as ecs_access
    from ecs_handoff.aws.registry import load_service

    item = f"service {service_id}"
    try:
        config = load_service(install.outputs["RegistryPrefix"], service_id)
    except ArtifactRejected as exc:
        yield Finding(item, False, str(exc), "fix the entry Terraform writes; unknown keys are refused")
        return
    install.services[service_id] = config
    try:
        base, _ = ecs_access.resolve_base(config.task_definition, keep_revisions=config.keep_revisions)
    except NotFound as exc:
        yield Finding(
            f"{item} base task definition", False, str(exc), "task_definition = aws_ecs_task_definition.<name>.arn"
        )
        return
    install.bases[service_id] = base
    yield Finding(f"{item} base task definition", True, str(base.get("taskDefinitionArn")))
    if ":" not in config.task_definition:
        yield Finding(
            f"{item} registry names a family",
            False,
            f"task_definition is the family {config.task_definition!r}: each deployment must search it",
            "name the exact base: task_definition = aws_ecs_task_definition.<name>.arn",
        )
    yield from _role_findings(item, base, install.parameters.get("EcsRolePath", "/ecs/"))
    try:
        service = ecs_access.describe_service(config.cluster, config.service)
    except NotFound as exc:
        yield Finding(f"{item} ECS service", False, str(exc), "create the aws_ecs_service Terraform names")
        return
    yield _circuit_breaker_finding(item, service)
    yield _managed_tag_finding(item, config.cluster, config.service, install.env)
    yield from _release_control_findings(install, item, config)
    yield from _strategy_findings(install, item, config, service)


def _strategy_findings(
    install: Install, item: str, config: ServiceConfig, service: dict[str, Any]
) -> Iterator[Finding]:
    """A BLUE_GREEN, LINEAR or CANARY service (or an entry that needs one): its hooks as the entry needs them, and
    each role ECS invokes handoff's hook with (trusted by ecs.amazonaws.com, allowed to invoke it)."""
    from ecs_handoff_cli.doctor_strategy import TRAFFIC_STRATEGIES, approval_stage, hook_roles, strategy_problems

    strategy = (service.get("deploymentConfiguration") or {}).get("strategy") or "ROLLING"
    if strategy not in TRAFFIC_STRATEGIES and approval_stage(config) == "before_deploy":
        return  # a rolling service: nothing here concerns it
    said, problems = strategy_problems(config, service, install.outputs)
    yield Finding(
        f"{item} deployment strategy",
        not problems,
        "; ".join(p.detail for p in problems) if problems else said,
        "; ".join(p.fix for p in problems),
    )
    function = install.outputs.get("LifecycleHookFunctionArn", "")
    for role in hook_roles(service, function) if function else []:
        yield _hook_role_finding(item, role, function)


def _hook_role_finding(item: str, role: str, function: str) -> Finding:
    """ECS assumes the hook's role to invoke the function ("Permissions required for Lambda functions in Amazon ECS
    blue/green deployments"): its trust policy must name ecs.amazonaws.com, and it must allow the invoke."""
    import json
    import urllib.parse

    from ecs_handoff_cli.doctor_strategy import trusts_ecs

    name = role.rsplit("/", 1)[-1]
    with aws_call(f"reading role {name}"):
        document = client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(urllib.parse.unquote(document)) if isinstance(document, str) else dict(document)
    problems = [] if trusts_ecs(trust) else [f"{role} does not let ecs.amazonaws.com assume it"]
    problems += _denied(name, role, [Permission("lambda:InvokeFunction", function)])
    return Finding(
        f"{item} lifecycle hook role",
        not problems,
        "; ".join(problems) if problems else f"{role}: ECS may assume it and invoke {function.rsplit(':', 1)[-1]}",
        "" if not problems else "use the stack's LifecycleHookRoleArn output as the hook's role_arn",
    )


# The functions that read an entry's release controls: the gate before each deploy, the deploy step again.
CONTROL_READERS = ("gate", "deploy")


def _release_control_findings(install: Install, item: str, config: ServiceConfig) -> Iterator[Finding]:
    """The entry's blocking alarms exist and its change calendar can be read, and the roles of the functions
    that read them may (IAM's simulator, on their ARNs): otherwise the gate refuses every deployment of it."""
    from ecs_handoff_cli.release_controls import calendar_arn, control_problems

    if not (config.blocking_alarms or config.change_calendar):
        return
    named = [f"alarm {a}" for a in config.blocking_alarms or []]
    named += [f"change calendar {config.change_calendar}"] if config.change_calendar else []
    permissions = [
        Permission("cloudwatch:DescribeAlarms", install.arn("cloudwatch", f"alarm:{a}"))
        for a in config.blocking_alarms or []
    ]
    if config.change_calendar:
        permissions.append(
            Permission("ssm:GetCalendarState", calendar_arn(config.change_calendar, install.region, install.account))
        )
    try:
        problems = control_problems(config)
    except HandoffError as exc:
        yield Finding(
            f"{item} release controls", False, f"could not check: {exc}", "run doctor with credentials that can read it"
        )
        return
    details = [p.detail for p in problems]
    for function in CONTROL_READERS:
        name = f"handoff-{install.env}-{function}"
        denied = _denied(name, function_role(name), permissions)
        if denied:
            details.append(f"{name} may not read them: " + "; ".join(denied))
    fixes = list(dict.fromkeys(p.fix for p in problems))
    if len(details) > len(problems):
        fixes.append(
            "deploy the template of this handoff version; a calendar of another account goes in "
            "CrossAccountChangeCalendarArns"
        )
    readers = " and ".join(f"handoff-{install.env}-{f}" for f in CONTROL_READERS)
    yield Finding(
        f"{item} release controls",
        not details,
        "; ".join(details) if details else f"{', '.join(named)}: present, and {readers} may read them",
        "; ".join(fixes),
    )


def _role_findings(item: str, base: dict[str, Any], role_path: str) -> Iterator[Finding]:
    """The base's roles must be under the IAM path handoff may pass roles from."""
    for kind in ("taskRoleArn", "executionRoleArn"):
        role = str(base.get(kind) or "")
        if role and not role.split(":role", 1)[-1].startswith(role_path):
            yield Finding(
                f"{item} {kind}",
                False,
                f"{role} is not under the IAM path {role_path}: handoff may not pass it (iam:PassRole)",
                f'give the role path = "{role_path}" in Terraform, or deploy the stack with EcsRolePath',
            )


def _circuit_breaker_finding(item: str, service: dict[str, Any]) -> Finding:
    breaker = (service.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    on = bool(breaker.get("enable")) and bool(breaker.get("rollback"))
    return Finding(
        f"{item} deployment circuit breaker",
        on,
        "on, with rollback"
        if on
        else f"enable={breaker.get('enable', False)}, rollback={breaker.get('rollback', False)}",
        "" if on else "deployment_circuit_breaker { enable = true; rollback = true } on the aws_ecs_service",
    )


MANAGED_TAG = "handoff:env"  # Terraform's tag on each service handoff deploys (template.yaml's UpdateService)


def _managed_tag_finding(item: str, cluster: str, service: str, env: str) -> Finding:
    """The deploy and rollback roles may update only services tagged handoff:env=<env>."""
    from ecs_handoff.aws.clients import aws_call, client

    with aws_call(f"reading the tags of service {service}"):
        described = client("ecs").describe_services(cluster=cluster, services=[service], include=["TAGS"])
    tags = {t.get("key"): t.get("value") for s in described.get("services", []) for t in s.get("tags", [])}
    ok = tags.get(MANAGED_TAG) == env
    return Finding(
        f"{item} tag {MANAGED_TAG}",
        ok,
        f"{MANAGED_TAG}={env}" if ok else f"{MANAGED_TAG} is {tags.get(MANAGED_TAG)!r}: handoff may not update it",
        "" if ok else f'tags = {{ "{MANAGED_TAG}" = "{env}" }} on the aws_ecs_service (the Terraform module sets it)',
    )


def check_approver_subscriptions(install: Install) -> Iterator[Finding]:
    """Each registered approver's own topic, as request-approval checks it before each link; and its policy."""
    from ecs_handoff.approvals import channel
    from ecs_handoff.aws import sns

    approvers = sorted({a.lower() for config in install.services.values() for a in config.approvers})
    for approver in approvers:
        topic = install.arn("sns", channel.topic_name(install.env, approver))
        try:
            found: list[sns.Subscription] | None = sns.subscriptions(topic)
        except NotFound:
            found = None
        trouble = channel.problem(approver, topic, found)
        yield Finding(
            f"approver {approver}",
            trouble is None,
            f"{channel.topic_name(install.env, approver)}: only their own confirmed email subscription"
            if trouble is None
            else trouble.detail,
            "" if trouble is None else trouble.fix,
        )
        if found is not None:
            subscriber = _only_subscriber(sns.topic_policy(topic))
            yield Finding(
                f"approver {approver} topic policy",
                subscriber is not None,
                f"only {subscriber} may subscribe" if subscriber else "anyone with sns:Subscribe may subscribe",
                ""
                if subscriber
                else "give the topic the policy of examples/terraform's handoff-environment module "
                "(deny sns:Subscribe to every principal but the role Terraform runs as)",
            )


def _only_subscriber(policy: dict[str, Any]) -> str | None:
    """The one principal a topic policy lets subscribe (a Deny of sns:Subscribe to everyone else), if any."""
    statements = policy.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = statement.get("Action", [])
        principal = statement.get("Principal")
        if (
            statement.get("Effect") == "Deny"
            and "sns:Subscribe" in ([actions] if isinstance(actions, str) else actions)
            and principal in ("*", {"AWS": "*"})
        ):
            condition = statement.get("Condition", {})
            for operator in ("ArnNotEquals", "StringNotEquals"):
                allowed = condition.get(operator, {}).get("aws:PrincipalArn")
                if isinstance(allowed, str) and "*" not in allowed:
                    return allowed
    return None


def signing_secret(install: Install) -> str:
    """The secret the approval functions sign links with, as their own configuration names it."""
    if install.secret is None:
        name = f"handoff-{install.env}-approval-page"
        with aws_call(f"reading function {name}"):
            config = client("lambda").get_function_configuration(FunctionName=name)
        install.secret = str(config.get("Environment", {}).get("Variables", {}).get("HANDOFF_LINK_SECRET_ARN", ""))
    return install.secret


def check_signing_secret(install: Install) -> Iterator[Finding]:
    secret = signing_secret(install)
    if not secret:
        yield Finding("link-signing secret", False, "the approval page names no secret", "redeploy the stack")
        return
    with aws_call(f"reading secret {secret}"):
        described = client("secretsmanager").describe_secret(SecretId=secret)
    present = "DeletedDate" not in described
    yield Finding(
        "link-signing secret",
        present,
        str(described.get("Name")) + ("" if present else " is scheduled for deletion"),
        "" if present else f"aws secretsmanager restore-secret --secret-id {secret}",
    )


# The operator API's routes: each must be AWS_IAM authorized, or anyone could decide as nobody.
OPERATOR_ROUTES = (
    "POST /approvals/{approval_id}/approve",
    "POST /approvals/{approval_id}/reject",
    "POST /deployments/{deployment_id}/deploy-now",
)


def check_operator_api(install: Install) -> Iterator[Finding]:
    """Every route of the operator API uses AWS_IAM authorization (API Gateway checks the SigV4 signature
    and execute-api:Invoke before handoff's function runs), and none is missing."""
    api_id = install.outputs.get("OperatorApiId", "")
    if not api_id:
        yield Finding(
            "operator API",
            False,
            "the stack has no OperatorApiId output (approve, reject and deploy-now need its operator API)",
            f"deploy this version of handoff: sam deploy --config-env {install.env}",
        )
        return
    with aws_call(f"reading the routes of API {api_id}"):
        routes = {r["RouteKey"]: r for r in client("apigatewayv2").get_routes(ApiId=api_id)["Items"]}
    missing = [key for key in OPERATOR_ROUTES if key not in routes]
    open_routes = sorted(key for key, r in routes.items() if r.get("AuthorizationType") != "AWS_IAM")
    ok = not missing and not open_routes
    problems = [f"{key} is {routes[key].get('AuthorizationType', 'NONE')}, not AWS_IAM" for key in open_routes]
    problems += [f"{key} is missing" for key in missing]
    yield Finding(
        "operator API routes",
        ok,
        f"all {len(routes)} use AWS_IAM authorization" if ok else "; ".join(problems),
        ""
        if ok
        else f"aws apigatewayv2 update-route --api-id {api_id} --route-id <id> --authorization-type AWS_IAM, "
        f"or redeploy the stack: sam deploy --config-env {install.env}",
    )


# --- IAM: each function's calls, simulated by IAM itself ----------------------------------------------


@dataclass
class _Resources:
    """This environment's resources as IAM names them, and the grants several functions share."""

    install: Install
    deployments: str
    state: str
    approvals: str
    execution: str  # one of the state machine's executions
    secret: str  # the link-signing secret (deploy-now overrides are signed with it too)
    services: list[str]
    approver_topic: str  # one approver's own topic stands for all (one grant covers them)

    @classmethod
    def of(cls, install: Install) -> _Resources:
        from ecs_handoff.approvals import channel

        approver = next((a for config in install.services.values() for a in config.approvers), "doctor@example.com")
        return cls(
            install=install,
            deployments=install.table("DeploymentsTableName"),
            state=install.table("StateTableName"),
            approvals=install.table("ApprovalsTableName"),
            execution=install.arn("states", f"execution:handoff-{install.env}-deployment:doctor"),
            secret=signing_secret(install) or "*",
            services=[
                install.arn("ecs", f"service/{config.cluster}/{config.service}") for config in install.services.values()
            ]
            or [install.arn("ecs", "service/doctor/doctor")],
            approver_topic=install.arn("sns", channel.topic_name(install.env, approver)),
        )

    @property
    def outputs(self) -> dict[str, str]:
        return self.install.outputs

    def write(self, *tables: str, actions: tuple[str, ...] = ("GetItem", "UpdateItem")) -> list[Permission]:
        return [Permission(f"dynamodb:{a}", t) for t in tables for a in actions]

    def on_services(self, *actions: str) -> list[Permission]:
        # UpdateService is allowed only on services tagged for this environment, as Terraform tags them.
        tagged = {f"aws:ResourceTag/{MANAGED_TAG}": self.install.env}
        return [
            Permission(f"ecs:{a}", s, tagged if a == "UpdateService" else {}) for s in self.services for a in actions
        ]

    def read_registry(self) -> list[Permission]:
        prefix = self.outputs["RegistryPrefix"]
        return [
            Permission("ssm:GetParameter", self.install.arn("ssm", f"parameter{prefix}/doctor")),
            Permission("ssm:GetParametersByPath", self.install.arn("ssm", f"parameter{prefix}")),
        ]

    def read_task_definitions(self) -> list[Permission]:
        return [Permission(f"ecs:{a}") for a in ("DescribeTaskDefinition", "ListTaskDefinitions")]

    def read_release_controls(self) -> list[Permission]:
        """A deploy-now and its signature, alarms, calendars."""
        return [
            Permission("secretsmanager:GetSecretValue", self.secret),
            Permission("cloudwatch:DescribeAlarms", self.install.arn("cloudwatch", "alarm:doctor")),
            Permission("ssm:GetCalendarState", self.install.arn("ssm", "document/doctor")),
        ]

    def send_task_result(self) -> list[Permission]:
        return [Permission("states:SendTaskSuccess"), Permission("states:SendTaskFailure")]


def _intake_calls(r: _Resources) -> list[Permission]:
    return [
        *[
            Permission(
                "s3:GetObjectVersion", f"arn:aws:s3:::{r.outputs['ArtifactBucketName']}/{sid}/imagedefinitions.json.zip"
            )
            for sid in r.install.services or {"doctor": None}
        ],
        *r.read_registry(),
        *r.read_task_definitions(),
        Permission("ecr:DescribeImages", r.install.arn("ecr", "repository/doctor")),
        *r.on_services("DescribeServices"),
        *r.write(r.deployments, actions=("PutItem", "UpdateItem")),
        Permission("dynamodb:UpdateItem", r.state),
        Permission("states:StartExecution", r.outputs["StateMachineArn"]),
        Permission("sns:Publish", r.outputs["NotificationsTopicArn"]),
    ]


def _lock_calls(r: _Resources) -> list[Permission]:
    return [
        Permission("dynamodb:UpdateItem", r.deployments),
        *r.write(r.state, actions=("GetItem", "PutItem")),
        *r.write(r.approvals, actions=("GetItem", "UpdateItem")),
        Permission("states:SendTaskFailure"),
        Permission("states:DescribeExecution", r.execution),
    ]


def _deploy_calls(r: _Resources) -> list[Permission]:
    bases = r.install.bases.values()
    pass_roles = [
        Permission("iam:PassRole", str(base[kind]), {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
        for base in bases
        for kind in ("taskRoleArn", "executionRoleArn")
        if base.get(kind)
    ]
    tag_new = [
        Permission(
            "ecs:TagResource",
            r.install.arn("ecs", f"task-definition/{base['family']}:{int(base['revision']) + 1}"),
            {"ecs:CreateAction": "RegisterTaskDefinition"},
        )
        for base in bases
    ]
    return [
        *r.read_task_definitions(),
        Permission("ecs:RegisterTaskDefinition"),
        *tag_new,
        *r.on_services("DescribeServices", "UpdateService"),
        *pass_roles,
        *r.write(r.deployments),
        # re-derives what it deploys: the registry entry and the recorded approval
        *r.read_registry(),
        Permission("dynamodb:GetItem", r.approvals),
        # and its release controls: the lock, a deploy-now and its signature, alarms, calendars
        Permission("dynamodb:GetItem", r.state),
        *r.read_release_controls(),
    ]


def _rollout_calls(r: _Resources) -> list[Permission]:
    return [
        *r.on_services("DescribeServices"),
        Permission("dynamodb:UpdateItem", r.deployments),
        *r.write(r.state, actions=("PutItem", "DeleteItem", "UpdateItem")),
        Permission("states:SendTaskSuccess"),
    ]


def _rollout_event_calls(r: _Resources) -> list[Permission]:
    return [
        *r.write(r.state, actions=("DeleteItem", "PutItem")),
        *r.on_services("DescribeServices"),
        Permission("states:SendTaskSuccess"),
    ]


def _rollback_calls(r: _Resources) -> list[Permission]:
    return [
        *r.on_services("DescribeServices", "UpdateService"),
        *r.write(r.deployments),
        *r.read_task_definitions(),
        *r.read_registry(),
    ]


def _gate_calls(r: _Resources) -> list[Permission]:
    return [
        Permission("dynamodb:UpdateItem", r.deployments),
        *r.write(r.state),
        *r.read_release_controls(),
        *r.on_services("DescribeServices"),
    ]


def _finalize_calls(r: _Resources) -> list[Permission]:
    return [
        *r.write(r.deployments),
        Permission("dynamodb:DeleteItem", r.state),
        Permission("dynamodb:UpdateItem", r.approvals),
        Permission("sns:Publish", r.outputs["NotificationsTopicArn"]),
        Permission("ecs:DeregisterTaskDefinition"),
        *r.read_task_definitions(),
        *r.on_services("DescribeServices"),
        *r.read_registry(),
        Permission("states:DescribeExecution", r.execution),  # a status event is believed only as described
        Permission("states:GetExecutionHistory", r.execution),  # the Finalize step's input, as handed
    ]


def _sweeper_calls(r: _Resources) -> list[Permission]:
    return [
        Permission("ssm:GetParametersByPath", r.install.arn("ssm", f"parameter{r.outputs['RegistryPrefix']}")),
        Permission("dynamodb:Query", r.install.table("DeploymentsTableName", "by_service")),
        *r.write(r.deployments),
        Permission("dynamodb:DeleteItem", r.state),
        Permission("dynamodb:UpdateItem", r.approvals),
        Permission("states:DescribeExecution", r.execution),
        Permission("sns:Publish", r.outputs["NotificationsTopicArn"]),
    ]


def _request_approval_calls(r: _Resources) -> list[Permission]:
    return [
        *r.write(r.approvals, actions=("GetItem", "PutItem", "UpdateItem")),
        *r.write(r.deployments),
        *r.read_registry(),
        Permission("sns:Publish", r.approver_topic),
        Permission("sns:ListSubscriptionsByTopic", r.approver_topic),
        Permission("secretsmanager:GetSecretValue", r.secret),
        *r.on_services("DescribeServices"),
        Permission("ecs:DescribeTaskDefinition"),
        *r.send_task_result(),
    ]


def _approval_page_calls(r: _Resources) -> list[Permission]:
    return [
        *r.write(r.approvals),
        Permission("dynamodb:UpdateItem", r.deployments),
        Permission("secretsmanager:GetSecretValue", r.secret),
        *r.send_task_result(),
    ]


def _operator_api_calls(r: _Resources) -> list[Permission]:
    # `handoff promote`'s statement: the deployments after it, whether ECS still runs it, and the signature
    promotion = (
        [
            Permission("dynamodb:Query", r.install.table("DeploymentsTableName", "by_service")),
            *r.on_services("DescribeServices"),
            Permission("kms:Sign", r.outputs["PromotionKeyArn"]),
        ]
        if "PromotionKeyArn" in r.outputs
        else []
    )
    return [
        *r.write(r.approvals, r.deployments),
        Permission("dynamodb:PutItem", r.state),
        *r.read_registry(),
        Permission("secretsmanager:GetSecretValue", r.secret),
        *r.send_task_result(),
        # `handoff rollback` during a blue/green, linear or canary deployment: find it, stop it
        *r.on_services("ListServiceDeployments"),
        Permission("ecs:DescribeServiceRevisions", r.install.arn("ecs", "service-revision/doctor/doctor/1")),
        Permission("ecs:StopServiceDeployment", r.install.arn("ecs", "service-deployment/doctor/doctor/1")),
        *promotion,
    ]


def _lifecycle_hook_calls(r: _Resources) -> list[Permission]:
    return [
        Permission("ecs:DescribeServiceDeployments", r.install.arn("ecs", "service-deployment/doctor/doctor/1")),
        Permission("ecs:DescribeServiceRevisions", r.install.arn("ecs", "service-revision/doctor/doctor/1")),
        Permission("ecs:DescribeTaskDefinition"),
        *r.write(r.deployments),
        *r.write(r.state, actions=("GetItem", "PutItem", "DeleteItem")),
        *r.read_registry(),
        *r.read_release_controls(),
    ]


# Each function (by its name suffix) and the calls it makes.
_CALLS: dict[str, Callable[[_Resources], list[Permission]]] = {
    "intake": _intake_calls,
    "lock": _lock_calls,
    "deploy": _deploy_calls,
    "rollout": _rollout_calls,
    "rollout-event": _rollout_event_calls,
    "rollback": _rollback_calls,
    "gate": _gate_calls,
    "finalize": _finalize_calls,
    "sweeper": _sweeper_calls,
    "request-approval": _request_approval_calls,
    "approval-page": _approval_page_calls,
    "operator-api": _operator_api_calls,
    "lifecycle-hook": _lifecycle_hook_calls,
}


def needed_permissions(install: Install) -> dict[str, list[Permission]]:
    """Per function (by its name suffix), every call it makes, on this environment's resources (the
    services and bases check_registry found). tests/e2e/test_doctor.py holds this table against the
    calls the functions really make on the embedded AWS."""
    resources = _Resources.of(install)
    return {function: calls(resources) for function, calls in _CALLS.items()}


def function_role(name: str) -> str:
    with aws_call(f"reading function {name}"):
        return str(client("lambda").get_function_configuration(FunctionName=name)["Role"])


def _denied(name: str, role: str, permissions: list[Permission]) -> list[str]:
    """The calls IAM's policy simulator says this role may not make, each with the simulator's decision."""
    iam = client("iam")
    denied = []
    for permission in permissions:
        entries: list[ContextEntryTypeDef] = [
            {"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
            for k, v in permission.context.items()
        ]
        with aws_call(f"simulating {permission.action} for {name}"):
            results = iam.simulate_principal_policy(
                PolicySourceArn=role,
                ActionNames=[permission.action],
                ResourceArns=[permission.resource],
                ContextEntries=entries,
            )["EvaluationResults"]
        denied += [
            f"{r['EvalActionName']} on {r.get('EvalResourceName', permission.resource)} ({r['EvalDecision']})"
            for r in results
            if r["EvalDecision"] != "allowed"
        ]
    return denied


def check_function_permissions(install: Install) -> Iterator[Finding]:
    for function, permissions in needed_permissions(install).items():
        name = f"handoff-{install.env}-{function}"
        denied = _denied(name, function_role(name), permissions)
        yield Finding(
            f"IAM of {name}",
            not denied,
            f"all {len(permissions)} calls allowed" if not denied else "denied: " + "; ".join(denied),
            "" if not denied else "deploy the template of this handoff version (its policies allow exactly these)",
        )
