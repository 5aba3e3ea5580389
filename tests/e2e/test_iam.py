"""IAM on the embedded AWS: the template's policies, evaluated the way AWS evaluates them."""

from __future__ import annotations

from ecs_handoff.models import Outcome
from ecs_handoff_embedded.iam import statement_problems
from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.scenario import World, artifact, image

from tests.e2e.roles import function_role, narrowed, statements


def stack_roles(aws: EmbeddedAws, env: str) -> list[str]:
    cfn = aws.client("cloudformation")
    resources = cfn.list_stack_resources(StackName=f"handoff-{env}")["StackResourceSummaries"]
    return [r["PhysicalResourceId"] for r in resources if r["ResourceType"] == "AWS::IAM::Role"]


def test_iam_every_allow_in_the_template_names_resources_its_actions_support(embedded: EmbeddedAws) -> None:
    # GIVEN every role both stacks created from template.yaml (after the SAM transform)
    problems = []
    for env in embedded.stacks:
        for role in stack_roles(embedded, env):
            for name, document in embedded.authorizer.inline_policies(role).items():
                for statement in statements(document):
                    problems += [
                        f"{role}/{name}/{statement.get('Sid', '?')}: {p}" for p in statement_problems(statement)
                    ]
    # THEN AWS would honour every statement as written
    assert problems == []


def test_iam_a_narrowed_role_gets_access_denied_and_the_deployment_fails_cleanly(
    world: World, embedded: EmbeddedAws
) -> None:
    # GIVEN the dev deploy function's role without ecs:UpdateService
    before = world.running("dev", "api")
    with narrowed(embedded, function_role(embedded, "handoff-dev-deploy"), "ecs:UpdateService"):
        # WHEN a deployment reaches the deploy step
        record = world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "dev-iam0001")})))
    # THEN the call is denied as AWS denies it, the outcome says so, and the service is unchanged
    assert record.outcome is Outcome.FAILED
    assert "AccessDeniedException" in record.reason
    assert "not authorized to perform: ecs:UpdateService" in record.reason
    assert world.running("dev", "api")["task_definition"] == before["task_definition"]
    assert any("ecs:UpdateService" in d for d in embedded.authorizer.denials)


def test_iam_the_cli_and_tests_run_unrestricted(embedded: EmbeddedAws) -> None:
    # GIVEN a caller whose key is no function's (the CLI, a test)  THEN moto answers as usual
    assert embedded.client("ecs").list_clusters()["clusterArns"]
