# One service handoff may deploy: Terraform's base task definition, the ECS service, the registry
# entry handoff reads, and CI's (small) rights. (Its approvers' topics are the environment's:
# handoff-environment's approvers must include them.)

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  family = "${var.env}-${var.service_id}"

  # The registry entry, in exactly the shape handoff's intake validates (ServiceConfig; unknown
  # keys are refused). tests/unit/test_terraform.py checks this against the model.
  registry_entry = {
    cluster = var.cluster_name
    service = var.service_id
    # The exact base revision, not the family: handoff then never has to search the family for
    # Terraform's newest revision, and a base change takes effect with the apply that makes it.
    task_definition          = aws_ecs_task_definition.base.arn
    approval_required        = var.approval_required
    approvers                = var.approvers
    approvals_required       = var.approvals_required
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
    # Release controls (CodePipeline V2's stage conditions); null / 0 / []: none.
    deploy_windows        = var.deploy_windows
    change_calendar       = var.change_calendar
    blocking_alarms       = var.blocking_alarms
    bake_seconds          = var.bake_seconds
    gate_poll_seconds     = var.gate_poll_seconds
    max_gate_wait_seconds = var.max_gate_wait_seconds
    override_principals   = var.override_principals
  }
}

# The base. handoff registers new revisions of this family from exactly this revision (the registry
# names its ARN), replacing only the images CI lists. It deregisters its own revisions beyond
# keep_revisions, never this one.
resource "aws_ecs_task_definition" "base" {
  family                   = local.family
  requires_compatibilities = ["FARGATE"]
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
  launch_type     = "FARGATE"

  deployment_controller {
    type = "ECS"
  }

  # handoff reads this deployment's rolloutState; with rollback, a failed rollout returns the
  # service to its previous revision by itself (handoff rolls back when ECS did not).
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  # handoff owns the running revision; without this, every `terraform apply` would revert it.
  lifecycle {
    ignore_changes = [task_definition]
  }

  # handoff's deploy and rollback roles may update only services tagged for their environment.
  tags = merge(var.tags, { "handoff:env" = var.env })
}

resource "aws_ssm_parameter" "registry" {
  name        = "/handoff/${var.env}/services/${var.service_id}"
  description = "handoff registry entry: which ECS service ${var.service_id} deploys to, and how"
  type        = "String"
  value       = jsonencode(local.registry_entry)
  tags        = var.tags
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
