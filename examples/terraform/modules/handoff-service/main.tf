# One service handoff may deploy: Terraform's base task definition, the ECS service, the registry
# entry handoff reads, and CI's (small) rights. (Its approvers' topics are the environment's:
# handoff-environment's approvers must include them.)

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  family = "${var.env}-${var.service_id}"

  # Without autoscaling, desired_count is both bounds of the scalable target (below), so a change to it
  # still reaches the service although the service ignores desired_count after creation.
  min_capacity = var.autoscaling == null ? var.desired_count : var.autoscaling.min_capacity
  max_capacity = var.autoscaling == null ? var.desired_count : var.autoscaling.max_capacity

  # Target tracking policies, one per metric given a target (none without autoscaling).
  scaling_policies = {
    for metric, policy in {
      ECSServiceAverageCPUUtilization    = { target = try(var.autoscaling.cpu_target, null), resource_label = null }
      ECSServiceAverageMemoryUtilization = { target = try(var.autoscaling.memory_target, null), resource_label = null }
      ALBRequestCountPerTarget           = { target = try(var.autoscaling.request_count_target, null), resource_label = try(var.autoscaling.request_count_resource_label, null) }
    } : metric => policy if policy.target != null
  }
}

# The base. handoff registers new revisions of this family from exactly this revision (the registry
# names its ARN), replacing only the images CI lists. It deregisters its own revisions beyond
# keep_revisions, never this one.
resource "aws_ecs_task_definition" "base" {
  family                   = local.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = var.task_role_arn
  execution_role_arn       = var.execution_role_arn
  container_definitions    = jsonencode(var.container_definitions)
  tags                     = merge(var.tags, { "managed-by" = "terraform" })
}

resource "aws_ecs_service" "this" {
  name            = var.service_id
  cluster         = var.cluster_name
  task_definition = aws_ecs_task_definition.base.arn
  desired_count   = var.desired_count
  # Fargate unless a capacity provider strategy is given (ECS takes one or the other, never both).
  launch_type = length(var.capacity_provider_strategy) == 0 ? "FARGATE" : null

  dynamic "capacity_provider_strategy" {
    for_each = var.capacity_provider_strategy
    content {
      capacity_provider = capacity_provider_strategy.value.capacity_provider
      weight            = capacity_provider_strategy.value.weight
      base              = capacity_provider_strategy.value.base
    }
  }

  deployment_controller {
    type = "ECS"
  }

  # handoff reads this deployment's rolloutState; with rollback, a failed rollout returns the
  # service to its previous revision by itself (handoff rolls back when ECS did not).
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  # ECS's own blue/green, linear or canary deployment (var.traffic): handoff updates the service as always and
  # follows the service deployment ECS runs. Before each production traffic shift ECS calls handoff's lifecycle
  # hook, which holds the shift while a release control does (and rolls back after max_gate_wait_seconds).
  dynamic "deployment_configuration" {
    for_each = local.traffic
    content {
      strategy             = deployment_configuration.value.strategy
      bake_time_in_minutes = deployment_configuration.value.bake_time_in_minutes
      dynamic "linear_configuration" {
        for_each = deployment_configuration.value.strategy == "LINEAR" ? [deployment_configuration.value.linear] : []
        content {
          step_percent              = linear_configuration.value.step_percent
          step_bake_time_in_minutes = linear_configuration.value.step_bake_time_in_minutes
        }
      }
      dynamic "canary_configuration" {
        for_each = deployment_configuration.value.strategy == "CANARY" ? [deployment_configuration.value.canary] : []
        content {
          canary_percent              = canary_configuration.value.canary_percent
          canary_bake_time_in_minutes = canary_configuration.value.canary_bake_time_in_minutes
        }
      }
      lifecycle_hook {
        hook_target_arn  = deployment_configuration.value.hook_function_arn
        role_arn         = deployment_configuration.value.hook_role_arn
        lifecycle_stages = ["PRE_PRODUCTION_TRAFFIC_SHIFT"]
      }
    }
  }

  # Deployment alarms: ECS rolls a deployment back when one goes to ALARM while it runs (every traffic step).
  dynamic "alarms" {
    for_each = length(try(var.traffic.deployment_alarms, [])) > 0 ? [var.traffic.deployment_alarms] : []
    content {
      alarm_names = alarms.value
      enable      = true
      rollback    = true
    }
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # ECS registers each task with the target groups itself; every revision handoff registers keeps the
  # base's container names and ports, so the attachment holds across deployments.
  dynamic "load_balancer" {
    for_each = var.load_balancers
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = load_balancer.value.container_name
      container_port   = load_balancer.value.container_port
    }
  }
  # With var.traffic, ECS serves production from blue and starts each deployment's tasks in green, moving the
  # listener rules' weights with the infrastructure role (traffic.tf).
  dynamic "load_balancer" {
    for_each = local.traffic
    content {
      target_group_arn = aws_lb_target_group.traffic["blue"].arn
      container_name   = load_balancer.value.container_name
      container_port   = load_balancer.value.container_port
      advanced_configuration {
        alternate_target_group_arn = aws_lb_target_group.traffic["green"].arn
        production_listener_rule   = aws_lb_listener_rule.traffic["production"].arn
        test_listener_rule         = aws_lb_listener_rule.traffic["test"].arn
        role_arn                   = aws_iam_role.ecs_infrastructure[load_balancer.key].arn
      }
    }
  }
  health_check_grace_period_seconds = length(var.load_balancers) == 0 && var.traffic == null ? null : var.health_check_grace_period_seconds

  lifecycle {
    # handoff owns the running revision; without task_definition here, every `terraform apply` would
    # revert it. desired_count belongs to the scalable target below (autoscaling, or desired_count as
    # both bounds): Terraform setting it too would undo each scaling activity.
    ignore_changes = [task_definition, desired_count]

    precondition {
      condition     = alltrue([for lb in var.load_balancers : contains([for c in var.container_definitions : c.name], lb.container_name)])
      error_message = "load_balancers: each container_name must be a container of container_definitions."
    }
  }

  # handoff's deploy and rollback roles may update only services tagged for their environment.
  tags = merge(var.tags, module.registry.service_tags)
}

# The service's task count, within bounds: autoscaling's, or desired_count as both (RegisterScalableTarget
# moves the service's desired count into the range).
resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${var.cluster_name}/${aws_ecs_service.this.name}"
  min_capacity       = local.min_capacity
  max_capacity       = local.max_capacity
}

resource "aws_appautoscaling_policy" "this" {
  for_each           = local.scaling_policies
  name               = "${local.family}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown
    scale_out_cooldown = var.autoscaling.scale_out_cooldown
    predefined_metric_specification {
      predefined_metric_type = each.key
      resource_label         = each.value.resource_label
    }
  }
}

# The registry entry handoff reads: the registry-only module writes it, so a service created here and one
# that stays in a team's own Terraform get the same JSON.
module "registry" {
  source                   = "../handoff-registry-entry"
  env                      = var.env
  service_id               = var.service_id
  cluster_name             = var.cluster_name
  service_name             = aws_ecs_service.this.name
  task_definition_arn      = aws_ecs_task_definition.base.arn
  approval_required        = var.approval_required
  approvers                = var.approvers
  approvals_required       = var.approvals_required
  approval_stage           = var.approval_stage
  test_traffic             = var.test_traffic
  rollout_timeout_seconds  = var.rollout_timeout_seconds
  approval_timeout_seconds = var.approval_timeout_seconds
  poll_interval_seconds    = var.poll_interval_seconds
  rollout_check_seconds    = var.rollout_check_seconds
  lock_timeout_seconds     = var.lock_timeout_seconds
  keep_revisions           = var.keep_revisions
  containers               = var.containers
  allowed_registries       = var.allowed_registries
  pin_digests              = var.pin_digests
  approver_principals      = var.approver_principals
  deploy_windows           = var.deploy_windows
  change_calendar          = var.change_calendar
  blocking_alarms          = var.blocking_alarms
  bake_seconds             = var.bake_seconds
  gate_poll_seconds        = var.gate_poll_seconds
  max_gate_wait_seconds    = var.max_gate_wait_seconds
  override_principals      = var.override_principals
  promotion                = var.promotion
  tags                     = var.tags
}

# Before the registry module, this module wrote the entry itself: state moves, the parameter stays.
moved {
  from = aws_ssm_parameter.registry
  to   = module.registry.aws_ssm_parameter.entry
}

# CI's rights: push this service's images and upload this service's metadata. Nothing else.
data "aws_iam_policy_document" "ci" {
  statement {
    sid       = "UploadImageDefinitions"
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::${var.bucket_name}/${var.service_id}/imagedefinitions.json.zip"]
  }
  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
    ]
    resources = [var.ecr_repository_arn]
  }
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }
}

# One CI role per service: a role holding two services' upload rights would let either service's CI
# upload (and so deploy) the other's metadata.
resource "aws_iam_role" "ci" {
  name                 = "handoff-${var.env}-${var.service_id}-ci"
  description          = "CI of ${var.service_id} in ${var.env}: push its images, upload its imagedefinitions.json.zip"
  assume_role_policy   = var.ci_assume_role_policy
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role_policy" "ci" {
  name   = "handoff-${var.env}-${var.service_id}-ci"
  role   = aws_iam_role.ci.name
  policy = data.aws_iam_policy_document.ci.json
}
