"""Terraform's side of the embedded world: buckets, clusters, services, base task definitions, registry."""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ecs_handoff.approvals import channel
from ecs_handoff.models import parse_reference, split_reference

ACCOUNT_ID = "123456789012"
REGION = "ap-northeast-1"
ECR = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com"


def ecr_host(account: str = ACCOUNT_ID) -> str:
    """An account's ECR registry in the region (`handoff local up --account-per-env` has one per environment)."""
    return f"{account}.dkr.ecr.{REGION}.amazonaws.com"


APPROVERS = {"prod": ["alice@example.com", "bob@example.com"]}  # the registry's, for each seeded service
# Who has an approval topic in every environment (handoff-environment's `approvers` in Terraform): prod's
# approvers, and dev's too for the tests and sessions that turn approval on there.
ENVIRONMENT_APPROVERS = ("alice@example.com", "bob@example.com")
TERRAFORM_ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/terraform"  # the only principal that may subscribe approvers
OPERATOR_ARN = f"arn:aws:sts::{ACCOUNT_ID}:user/moto"  # who the CLI is on the embedded AWS


@dataclass(frozen=True)
class SeedService:
    service_id: str
    containers: dict[str, str]  # container name -> image Terraform sets
    desired_count: int
    strategy: str = "ROLLING"  # deploymentConfiguration.strategy (web: behind an ALB, ECS shifts the traffic)


# The tag Terraform puts on every ECS service handoff deploys (its value: the environment); the deploy and
# rollback roles may call UpdateService only on services that carry it (aws:ResourceTag in template.yaml).
MANAGED_TAG = "handoff:env"


def seed_services(env: str, account: str = ACCOUNT_ID) -> list[SeedService]:
    registry = ecr_host(account)  # this environment's account's ECR
    return [
        SeedService(
            "api",
            {
                "app-container": f"{registry}/api:{env}-0a1b2c3",
                "nginx-container": f"{registry}/api-nginx:{env}-0a1b2c3",
            },
            2,
        ),
        SeedService(
            "worker",
            {
                "app": f"{registry}/worker:{env}-0a1b2c3",
                "log-router": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
            },
            1,
        ),
        # Behind an ALB with a production and a test listener (web_load_balancer): prod's is BLUE_GREEN and its
        # approvers decide while green serves only the test listener; dev's moves traffic in LINEAR steps and
        # rolls back when its dev-web-5xx alarm fires.
        SeedService("web", {"app": f"{ECR}/web:{env}-0a1b2c3"}, 2, "BLUE_GREEN" if env == "prod" else "LINEAR"),
    ]


# What Terraform sets on each web service's deployments (AWS minutes: the embedded ECS scales them down, 1/180 by
# default, so a 6-minute step lasts 2 s and a test or a person can act between steps).
WEB_ALARM = "dev-web-5xx"
# The PAUSE hook's timeout (AWS minutes; ROLLBACK when it runs out): longer than the approvers' wait below.
WEB_PAUSE_TIMEOUT_MINUTES = 10080
WEB_APPROVAL_TIMEOUT_SECONDS = 3000


def web_deployment_configuration(env: str) -> dict[str, Any]:
    if env == "prod":
        return {
            "strategy": "BLUE_GREEN",
            "bakeTimeInMinutes": 3,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "lifecycleHooks": [
                {
                    "targetType": "PAUSE",
                    "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                    "timeoutConfiguration": {"timeoutInMinutes": WEB_PAUSE_TIMEOUT_MINUTES, "action": "ROLLBACK"},
                }
            ],
        }
    return {
        "strategy": "LINEAR",
        "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 6},
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "alarms": {"alarmNames": [WEB_ALARM], "enable": True, "rollback": True},
    }


@dataclass(frozen=True)
class WebLoadBalancer:
    """web's ALB: production traffic on port 80, test traffic on 8080, each a listener rule forwarding between
    the blue and the green target group (ECS moves the weights)."""

    dns_name: str
    blue: str
    green: str
    production_rule: str
    test_rule: str

    @property
    def test_url(self) -> str:
        return f"http://{self.dns_name}:8080"


def web_load_balancer(session: Any, env: str) -> WebLoadBalancer:
    return blue_green_load_balancer(session, f"{env}-web")


def blue_green_load_balancer(clients: Any, name: str) -> WebLoadBalancer:
    """An ALB named `name` in a VPC of its own, with target groups <name>-blue and <name>-green and the production
    and test listener rules ECS moves the weights of. `clients`: anything with boto3's `.client(service)` (a
    session, the embedded AWS, a provisioned test stack)."""
    ec2, elbv2 = clients.client("ec2"), clients.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ac")
    ]
    balancer = elbv2.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0]
    blue, green = (
        elbv2.create_target_group(Name=f"{name}-{color}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for color in ("blue", "green")
    )
    rules = []
    for port in (80, 8080):  # production, then test
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )["Listeners"][0]["ListenerArn"]
        forward = {"TargetGroups": [{"TargetGroupArn": blue, "Weight": 100}, {"TargetGroupArn": green, "Weight": 0}]}
        rules.append(
            elbv2.create_rule(
                ListenerArn=listener,
                Priority=1,
                Conditions=[{"Field": "path-pattern", "Values": ["/*"]}],
                Actions=[{"Type": "forward", "ForwardConfig": forward}],
            )["Rules"][0]["RuleArn"]
        )
    return WebLoadBalancer(str(balancer["DNSName"]), str(blue), str(green), str(rules[0]), str(rules[1]))


# A build CI would upload for the api service (both its images), used by `make demo`, `handoff local up`'s
# sample and docs/cli.md's session.
SAMPLE_IMAGES = {"app-container": f"{ECR}/api:dev-4f2a9c1", "nginx-container": f"{ECR}/api-nginx:dev-4f2a9c1"}


def bucket_name(env: str, account: str = ACCOUNT_ID) -> str:
    return f"{env}-ecsdef-{account}"


def seed(
    session: Any,
    env: str,
    rollout_timeout_seconds: int = 60,
    poll_interval_seconds: int = 1,
    rollout_check_seconds: int = 2,
    account: str = ACCOUNT_ID,
    operator_arn: str = OPERATOR_ARN,
) -> None:
    """Create what Terraform owns in one environment, in the shapes the docs describe (in `account`, which the
    session's credentials must reach; `operator_arn` is who the CLI is there)."""
    s3, ecs, ssm, ecr = (session.client(n) for n in ("s3", "ecs", "ssm", "ecr"))
    bucket = bucket_name(env, account)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})
    ecs.create_cluster(clusterName=env)
    for svc in seed_services(env, account):
        for image in svc.containers.values():  # CI pushed what runs (a rollback to it finds it in ECR)
            push_image(ecr, image)
        task_definition = _base_task_definition(session, env, svc, account)
        extra: dict[str, Any] = {
            "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
        }
        traffic: dict[str, Any] = {}
        if svc.strategy != "ROLLING":
            extra, traffic = _behind_the_load_balancer(session, env)
        ecs.create_service(
            cluster=env,
            serviceName=svc.service_id,
            taskDefinition=task_definition,
            desiredCount=svc.desired_count,
            tags=[{"key": MANAGED_TAG, "value": env}],  # handoff's roles may update only services tagged so
            **extra,
        )
        _mark_running(env, svc.service_id, account)
        entry = {
            "cluster": env,
            "service": svc.service_id,
            "task_definition": task_definition,  # the exact base, as the Terraform module writes it
            "approval_required": env == "prod",
            "approvers": APPROVERS.get(env, []),
            "rollout_timeout_seconds": rollout_timeout_seconds,
            "poll_interval_seconds": poll_interval_seconds,
            "rollout_check_seconds": rollout_check_seconds,
            "lock_timeout_seconds": 600,
            # The embedded AWS's own caller (moto's user) may decide from the CLI, as bob.
            "approver_principals": {operator_arn: "bob@example.com"} if env == "prod" else {},
            **({"containers": ["app"]} if svc.service_id == "worker" else {}),  # the log router is Terraform's
            **traffic,
        }
        ssm.put_parameter(
            Name=f"/handoff/{env}/services/{svc.service_id}", Type="String", Overwrite=True, Value=json.dumps(entry)
        )
    create_approver_topics(session, env, account=account)


def _base_task_definition(session: Any, env: str, svc: SeedService, account: str) -> str:
    """Terraform's task definition for a service (its task and execution roles under /ecs/), registered; its ARN."""
    family = f"{env}-{svc.service_id}"
    assume = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam = session.client("iam")
    roles = {
        kind: iam.create_role(RoleName=f"{family}-{kind}", Path="/ecs/", AssumeRolePolicyDocument=assume)["Role"]["Arn"]
        for kind in ("task", "execution")
    }
    containers = [
        {
            "name": name,
            "image": image,
            "essential": name != "log-router",
            "cpu": 128,
            "memory": 256,
            "environment": [{"name": "APP_ENV", "value": env}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": f"arn:aws:ssm:{REGION}:{account}:parameter/{env}/db"}],
        }
        for name, image in svc.containers.items()
    ]
    registered = session.client("ecs").register_task_definition(
        family=family,
        taskRoleArn=roles["task"],
        executionRoleArn=roles["execution"],
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        containerDefinitions=containers,
        tags=[{"key": "managed-by", "value": "terraform"}, {"key": "service", "value": svc.service_id}],
    )
    return str(registered["taskDefinition"]["taskDefinitionArn"])


def put_5xx_alarm(cloudwatch: Any, name: str) -> None:
    """A CloudWatch alarm on the load balancer's 5xx count, as the sample world's Terraform would create it."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=10,
        ComparisonOperator="GreaterThanThreshold",
    )


def _behind_the_load_balancer(session: Any, env: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """web's CreateService arguments (the ALB, ECS's deployment strategy) and its registry entry's keys."""
    balancer = web_load_balancer(session, env)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    # The role ECS moves the listener rules' weights with (AmazonECSInfrastructureRolePolicyForLoadBalancers).
    role = session.client("iam").create_role(
        RoleName=f"{env}-web-ecs-infrastructure", Path="/ecs/", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    if env != "prod":
        cloudwatch = session.client("cloudwatch")
        put_5xx_alarm(cloudwatch, WEB_ALARM)
        cloudwatch.set_alarm_state(AlarmName=WEB_ALARM, StateValue="OK", StateReason="seeded")
    service = {
        "deploymentController": {"type": "ECS"},
        "loadBalancers": [
            {
                "targetGroupArn": balancer.blue,
                "containerName": "app",
                "containerPort": 80,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": balancer.green,
                    "productionListenerRule": balancer.production_rule,
                    "testListenerRule": balancer.test_rule,
                    "roleArn": role,
                },
            }
        ],
        "deploymentConfiguration": web_deployment_configuration(env),
    }
    entry: dict[str, Any] = {
        "test_traffic": {"url": balancer.test_url},
        # ECS's events decide; the look after them is the fallback, so it need not come often.
        "rollout_check_seconds": 30,
        "rollout_timeout_seconds": 300,
    }
    if env == "prod":
        entry.update(approval_stage="before_production_traffic", approval_timeout_seconds=WEB_APPROVAL_TIMEOUT_SECONDS)
    return service, entry


def _mark_running(cluster: str, service: str, account: str = ACCOUNT_ID) -> None:
    """Terraform's first deployment has long finished: the initial deployment is COMPLETED."""
    from moto.ecs.models import ecs_backends

    svc = ecs_backends[account][REGION].services[f"{cluster}:{service}"]
    svc.running_count, svc.pending_count = svc.desired_count, 0
    for deployment in svc.deployments:
        deployment.update(rolloutState="COMPLETED", runningCount=svc.desired_count, pendingCount=0)


def create_approver_topics(
    session: Any, env: str, approvers: Sequence[str] = ENVIRONMENT_APPROVERS, account: str = ACCOUNT_ID
) -> dict[str, str]:
    """As examples/terraform's handoff-environment module does: one topic per approver, named by the rule
    request-approval follows, with that approver's email subscription and a policy that lets only
    Terraform's role subscribe. {approver: topic ARN}."""
    sns = session.client("sns")
    topics: dict[str, str] = {}
    for approver in approvers:
        name = channel.topic_name(env, approver)
        arn = f"arn:aws:sns:{REGION}:{account}:{name}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "OnlyTerraformSubscribes",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "sns:Subscribe",
                    "Resource": arn,
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account}:role/terraform"}},
                }
            ],
        }
        created = sns.create_topic(
            Name=name, Attributes={"KmsMasterKeyId": "alias/aws/sns", "Policy": json.dumps(policy)}
        )["TopicArn"]
        sns.subscribe(TopicArn=created, Protocol="email", Endpoint=approver)
        topics[approver] = str(created)
    return topics


def add_simple_service(session: Any, env: str, service_id: str, image: str) -> None:
    """One more one-container service, as Terraform would add it (load tests and benchmarks). Its registry
    entry names the bare family, the form handoff tolerates (tests of base resolution use it)."""
    ecs, ssm = session.client("ecs"), session.client("ssm")
    family = f"{env}-{service_id}"
    arn = ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "app", "image": image, "memory": 128}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=env,
        serviceName=service_id,
        taskDefinition=arn,
        desiredCount=1,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        tags=[{"key": MANAGED_TAG, "value": env}],
    )
    _mark_running(env, service_id)
    ssm.put_parameter(
        Name=f"/handoff/{env}/services/{service_id}",
        Type="String",
        Overwrite=True,
        Value=json.dumps(
            {
                "cluster": env,
                "service": service_id,
                "task_definition": family,
                "poll_interval_seconds": 1,
                # Events decide; a look runs inside the wait it ends, so under a 50-service burst on
                # two cores (moto's Lambda invocations then take seconds) it needs room to finish.
                "rollout_check_seconds": 10,
                "rollout_timeout_seconds": 120,
                "lock_timeout_seconds": 600,
            }
        ),
    )


def push_image(ecr: Any, image_uri: str, build: str = "") -> str | None:
    """As CI's `docker push` would: the image exists in this account's ECR afterwards (its manifest unique
    to the reference, so each tag has its own digest). Returns the digest; None for other registries."""
    import hashlib

    host = image_uri.split("/", 1)[0]
    if not host.endswith(f".dkr.ecr.{REGION}.amazonaws.com"):  # ECR of this account (or another's, per env)
        return None
    repository, tag, _ = split_reference(image_uri, host)
    tag = tag or "latest"
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository)
    layer = hashlib.sha256(f"{image_uri}{build}".encode()).hexdigest()  # another build: another digest
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1,
                "digest": f"sha256:{layer}",
            },
            # moto derives the image digest from the layer digests: one layer unique to the reference
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 1,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )
    try:
        pushed = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    except ecr.exceptions.ImageAlreadyExistsException:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        return str(found["imageDetails"][0]["imageDigest"])
    return str(pushed["image"]["imageId"]["imageDigest"])


def pinned_image(ecr: Any, image_uri: str) -> str:
    """What handoff deploys for an uploaded image of this account's ECR: the repository at the digest its
    tag has (pushing it first if CI had not); other registries' images as they are."""
    digest = push_image(ecr, image_uri)
    return f"{parse_reference(image_uri)[0]}@{digest}" if digest else image_uri


def artifact_images(body: bytes) -> list[str]:
    """The image references in an artifact, or none when it is not a readable one (hostile bodies)."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            entries = json.loads(archive.read("imagedefinitions.json"))
        return [str(e["imageUri"]) for e in entries if isinstance(e, dict) and isinstance(e.get("imageUri"), str)]
    except Exception:  # encrypted, corrupt, not JSON, not a list: nothing to push
        return []
