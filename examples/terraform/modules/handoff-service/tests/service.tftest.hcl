# The service module's own logic, planned and applied against a mocked AWS provider (no account, no network;
# the provider's schema is needed, so run `terraform init` first, e.g. with -plugin-dir where providers cannot
# be downloaded): terraform -chdir=examples/terraform/modules/handoff-service test

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\": \"2012-10-17\"}" }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/prod-api:1" }
  }
  # launch_type is computed: a service created without one reads back what ECS says; "" marks "not set here".
  mock_resource "aws_ecs_service" {
    defaults = { launch_type = "" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/x" }
  }
}

variables {
  env                   = "prod"
  service_id            = "api"
  cluster_name          = "prod"
  bucket_name           = "prod-ecsdef-123456789012"
  task_role_arn         = "arn:aws:iam::123456789012:role/ecs/t"
  execution_role_arn    = "arn:aws:iam::123456789012:role/ecs/e"
  subnet_ids            = ["subnet-0123456789abcdef0"]
  security_group_ids    = ["sg-0123456789abcdef0"]
  ecr_repository_arn    = "arn:aws:ecr:ap-northeast-1:123456789012:repository/api"
  ci_assume_role_policy = "{}"
  container_definitions = [{ name = "app", image = "x", essential = true, portMappings = [{ containerPort = 80 }] }]
}

run "fargate_alb_autoscaling" {
  command = apply
  variables {
    load_balancers = [{ target_group_arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/prod-api/0123456789abcdef", container_name = "app", container_port = 80 }]
    autoscaling    = { min_capacity = 2, max_capacity = 10, cpu_target = 60, request_count_target = 500, request_count_resource_label = "app/a/1/targetgroup/b/2" }
  }
  assert {
    condition     = aws_ecs_service.this.launch_type == "FARGATE" && length(aws_ecs_service.this.capacity_provider_strategy) == 0
    error_message = "no capacity provider strategy: launch type FARGATE"
  }
  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 2 && aws_appautoscaling_target.this.max_capacity == 10
    error_message = "autoscaling: the scalable target takes its bounds"
  }
  assert {
    condition     = toset(keys(aws_appautoscaling_policy.this)) == toset(["ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"])
    error_message = "one target tracking policy per metric given a target"
  }
  assert {
    condition     = aws_appautoscaling_policy.this["ALBRequestCountPerTarget"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/a/1/targetgroup/b/2"
    error_message = "ALB requests per target: the resource label given"
  }
  assert {
    condition     = aws_ecs_service.this.health_check_grace_period_seconds == 60 && length(aws_ecs_service.this.load_balancer) == 1
    error_message = "the service attaches to the target group, with the grace period"
  }
  assert {
    condition     = aws_ecs_service.this.tags["handoff:env"] == "prod"
    error_message = "the service carries handoff:env = <env>"
  }
  assert {
    condition     = module.registry.registry_parameter == "/handoff/prod/services/api"
    error_message = "the registry entry is not where the intake reads"
  }
}

run "capacity_providers_fixed_count" {
  state_key = "capacity_providers"
  command   = apply
  variables {
    desired_count              = 3
    capacity_provider_strategy = [{ capacity_provider = "FARGATE_SPOT", weight = 3 }, { capacity_provider = "FARGATE", base = 1 }]
  }
  assert {
    condition     = aws_ecs_service.this.launch_type == "" && length(aws_ecs_service.this.capacity_provider_strategy) == 2
    error_message = "a capacity provider strategy and no launch type (ECS refuses both)"
  }
  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 3 && aws_appautoscaling_target.this.max_capacity == 3 && length(aws_appautoscaling_policy.this) == 0
    error_message = "without autoscaling, desired_count is both bounds and there is no policy"
  }
  assert {
    condition     = aws_ecs_service.this.health_check_grace_period_seconds == null
    error_message = "no load balancer, no health check grace period"
  }
}

run "lb_container_must_exist" {
  command = plan
  variables {
    load_balancers = [{ target_group_arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/prod-api/0123456789abcdef", container_name = "nginx", container_port = 80 }]
  }
  expect_failures = [aws_ecs_service.this]
}

run "autoscaling_bounds_checked" {
  command = plan
  variables {
    autoscaling = { min_capacity = 5, max_capacity = 2 }
  }
  expect_failures = [var.autoscaling]
}
