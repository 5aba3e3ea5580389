# ECS's own blue/green, linear and canary deployments (var.traffic): two target groups, a production and a test
# listener rule, the role ECS moves their weights with, and what the service's deployment configuration needs.
# ECS owns the rules' weights while it deploys: Terraform sets them once and leaves them alone.

locals {
  traffic = var.traffic == null ? {} : { this = var.traffic }
}

resource "aws_lb_target_group" "traffic" {
  for_each    = var.traffic == null ? {} : { blue = var.traffic, green = var.traffic }
  name        = "${local.family}-${each.key}"
  vpc_id      = each.value.vpc_id
  port        = each.value.container_port
  protocol    = "HTTP"
  target_type = "ip" # Fargate's awsvpc networking registers task IPs
  health_check {
    path = each.value.health_check_path
  }
  tags = var.tags
}

# Production and test traffic both start on blue; during a deployment ECS shifts test traffic to green first,
# then production (all at once, in linear steps, or the canary then the rest), and back on a rollback.
resource "aws_lb_listener_rule" "traffic" {
  for_each     = var.traffic == null ? {} : { production = var.traffic, test = var.traffic }
  listener_arn = each.key == "production" ? each.value.production_listener_arn : each.value.test_listener_arn
  priority     = each.value.rule_priority
  action {
    type = "forward"
    forward {
      target_group {
        arn    = aws_lb_target_group.traffic["blue"].arn
        weight = 100
      }
      target_group {
        arn    = aws_lb_target_group.traffic["green"].arn
        weight = 0
      }
    }
  }
  condition {
    path_pattern {
      values = each.value.path_patterns
    }
  }
  lifecycle {
    ignore_changes = [action] # ECS's weights, and which group is blue, change with each deployment
  }
  tags = var.tags
}

# The infrastructure role ECS uses to change the listener rules (loadBalancers[].advancedConfiguration.roleArn):
# "Amazon ECS infrastructure IAM role for load balancers", with AWS's managed policy for it.
data "aws_iam_policy_document" "ecs_infrastructure_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_infrastructure" {
  for_each           = local.traffic
  name               = "${local.family}-ecs-load-balancers"
  description        = "ECS moves ${var.service_id}'s traffic between its blue and green target groups"
  assume_role_policy = data.aws_iam_policy_document.ecs_infrastructure_trust.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ecs_infrastructure" {
  for_each   = local.traffic
  role       = aws_iam_role.ecs_infrastructure[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
}
