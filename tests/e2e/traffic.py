"""dev's api as Terraform makes a service ECS deploys itself (handoff-service's `traffic`): an ALB with a production
and a test listener rule, blue and green target groups, the deployment configuration with handoff's lifecycle hook
at PRE_PRODUCTION_TRAFFIC_SHIFT through the stack's role; the service put back as it was afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.seed import ACCOUNT_ID, REGION, blue_green_load_balancer


@dataclass(frozen=True)
class Traffic:
    aws: EmbeddedAws
    blue: str
    green: str
    production_rule: str

    def weights(self) -> tuple[int, int]:
        """(blue, green) of production traffic, as ELBv2's DescribeRules shows it."""
        rule = self.aws.client("elbv2").describe_rules(RuleArns=[self.production_rule])["Rules"][0]
        forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
        groups = {g["TargetGroupArn"]: g["Weight"] for g in forward["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.blue, 0), groups.get(self.green, 0)


@contextmanager
def deployed_by_ecs(aws: EmbeddedAws, env: str, service: str, configuration: dict[str, Any]) -> Iterator[Traffic]:
    """The service deployed by ECS with `configuration` (strategy and its settings) and handoff's hook."""
    from moto.ecs.models import ecs_backends

    outputs = aws.stacks[env].outputs
    # A balancer of its own per use (names are unique in an account, and the embedded AWS lives for the session).
    balancer = blue_green_load_balancer(aws, f"{env}-{service}-{uuid.uuid4().hex[:8]}")
    blue, green, production, test = balancer.blue, balancer.green, balancer.production_rule, balancer.test_rule
    ecs = ecs_backends[ACCOUNT_ID][REGION].services[f"{env}:{service}"]
    saved = (ecs.load_balancers, getattr(ecs, "deployment_configuration", None))
    ecs.load_balancers = [
        {
            "targetGroupArn": blue,
            "containerName": "app-container",
            "containerPort": 80,
            "advancedConfiguration": {
                "alternateTargetGroupArn": green,
                "productionListenerRule": production,
                "testListenerRule": test,
                "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/ecs-infrastructure-for-load-balancers",
            },
        }
    ]
    hook = {
        "targetType": "AWS_LAMBDA",
        "hookTargetArn": outputs["LifecycleHookFunctionArn"],
        "roleArn": outputs["LifecycleHookRoleArn"],
        "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"],
    }
    ecs.deployment_configuration = {**(saved[1] or {}), **configuration, "lifecycleHooks": [hook]}
    try:
        yield Traffic(aws, blue, green, production)
    finally:
        ecs.load_balancers, ecs.deployment_configuration = saved
