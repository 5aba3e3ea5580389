"""The embedded world's `web` services behind their ALB: which target group serves production and test traffic
(the listener rules' forward weights, as ELBv2 shows them), and what the deployment's execution cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecs_handoff_embedded.runtime import EmbeddedAws

from tests.e2e.history import execution_arn, history


@dataclass(frozen=True)
class Listeners:
    """web's production and test listener rules, and which target group is blue (serving production now)."""

    elbv2: Any
    production_rule: str
    test_rule: str
    blue: str
    green: str

    def weights(self, traffic: str) -> tuple[int, int]:
        """(blue, green) percentages on the production or test listener rule."""
        rule = self.production_rule if traffic == "production" else self.test_rule
        found = self.elbv2.describe_rules(RuleArns=[rule])["Rules"][0]
        forward = next(a for a in found["Actions"] if a["Type"] == "forward")
        groups = {g["TargetGroupArn"]: int(g["Weight"]) for g in forward["ForwardConfig"]["TargetGroups"]}
        return groups.get(self.blue, 0), groups.get(self.green, 0)


def listeners(aws: EmbeddedAws, env: str, service: str = "web") -> Listeners:
    """Read from ECS and ELBv2 as they are now: blue is whichever target group production traffic goes to."""
    described = aws.client("ecs").describe_services(cluster=env, services=[service])["services"][0]
    balancer = next(lb for lb in described["loadBalancers"] if lb.get("advancedConfiguration"))
    advanced = balancer["advancedConfiguration"]
    elbv2 = aws.client("elbv2")
    first, second = balancer["targetGroupArn"], advanced["alternateTargetGroupArn"]
    rule = elbv2.describe_rules(RuleArns=[advanced["productionListenerRule"]])["Rules"][0]
    forward = next(a for a in rule["Actions"] if a["Type"] == "forward")
    production = {g["TargetGroupArn"]: int(g["Weight"]) for g in forward["ForwardConfig"]["TargetGroups"]}
    blue, green = (second, first) if production.get(second, 0) > production.get(first, 0) else (first, second)
    return Listeners(elbv2, advanced["productionListenerRule"], advanced["testListenerRule"], blue, green)


def state_transitions(aws: EmbeddedAws, env: str, deployment_id: str) -> list[str]:
    """The states the deployment's execution entered, in order (what Step Functions bills: a transition each)."""
    events = history(aws, execution_arn(aws, env, deployment_id))
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]
