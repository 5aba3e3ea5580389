# billing: a service that was in its team's Terraform before handoff, and stays there. handoff gets only
# its registry entry (handoff-registry-entry); the team's own resources add two things: the tag handoff's
# deploy and rollback roles require, and ignore_changes on task_definition. Its CI needs the same rights
# as handoff-service's CI role (`handoff upload --print-ci` prints the policy).

resource "aws_ecs_task_definition" "billing" {
  family                   = "prod-billing"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "256"
  memory                   = "512"
  task_role_arn            = "arn:aws:iam::123456789012:role/ecs/prod-billing-task" # under EcsRolePath
  execution_role_arn       = "arn:aws:iam::123456789012:role/ecs/prod-billing-execution"
  container_definitions = jsonencode([
    {
      name      = "billing"
      image     = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/billing:prod-initial"
      essential = true
    },
  ])
}

resource "aws_ecs_service" "billing" {
  name            = "billing"
  cluster         = aws_ecs_cluster.prod.arn
  task_definition = aws_ecs_task_definition.billing.arn
  desired_count   = 2
  launch_type     = "FARGATE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets         = ["subnet-0123456789abcdef0"]
    security_groups = ["sg-0123456789abcdef0"]
  }

  tags = merge({ team = "billing" }, module.billing_handoff.service_tags) # added for handoff: handoff:env = prod

  lifecycle {
    ignore_changes = [task_definition] # added for handoff: it owns the running revision
  }
}

module "billing_handoff" {
  source              = "./modules/handoff-registry-entry"
  env                 = "prod"
  service_id          = "billing"
  cluster_name        = aws_ecs_cluster.prod.name
  service_name        = aws_ecs_service.billing.name
  task_definition_arn = aws_ecs_task_definition.billing.arn # the base handoff builds each revision from
  approval_required   = true
  approvers           = local.approvers
}
