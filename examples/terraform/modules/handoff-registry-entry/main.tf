# The registry entry handoff reads for one service, and nothing else: for a service whose ECS service
# and task definition stay where they already are in Terraform (handoff-service uses this module for its
# own entry, so both write the same JSON). The team's aws_ecs_service must carry the tag handoff's
# deploy and rollback roles require (output service_tags) and must leave task_definition to handoff:
#
#   resource "aws_ecs_service" "billing" {
#     # ...
#     tags = merge(local.tags, module.billing_handoff.service_tags) # handoff:env = <env>
#     lifecycle {
#       ignore_changes = [task_definition]
#     }
#   }
#
# A module cannot tag a resource it does not own (and a second owner of the service's tags would undo
# the first on every apply), so the tag is that one line in the team's own resource.

locals {
  # The registry entry, in exactly the shape handoff's intake validates (ServiceConfig; unknown keys are
  # refused). tests/unit/test_terraform.py checks this against the model.
  registry_entry = {
    cluster = var.cluster_name
    service = var.service_name
    # The exact base revision, not the family: handoff then never has to search the family for
    # Terraform's newest revision, and a base change takes effect with the apply that makes it.
    task_definition    = var.task_definition_arn
    approval_required  = var.approval_required
    approvers          = var.approvers
    approvals_required = var.approvals_required
    # before_deploy, or before_production_traffic: ECS holds green on the test listener at a PAUSE hook
    # (POST_TEST_TRAFFIC_SHIFT) while the approvers decide; test_traffic says how they reach green.
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
    # Release controls (CodePipeline V2's stage conditions); null / 0 / []: none.
    deploy_windows        = var.deploy_windows
    change_calendar       = var.change_calendar
    blocking_alarms       = var.blocking_alarms
    bake_seconds          = var.bake_seconds
    gate_poll_seconds     = var.gate_poll_seconds
    max_gate_wait_seconds = var.max_gate_wait_seconds
    override_principals   = var.override_principals
    # Promotion: accept only digests that succeeded and soaked in the environment before (null: any upload).
    promotion = var.promotion
  }
}

resource "aws_ssm_parameter" "entry" {
  name        = "/handoff/${var.env}/services/${var.service_id}"
  description = "handoff registry entry: which ECS service ${var.service_id} deploys to, and how"
  type        = "String"
  value       = jsonencode(local.registry_entry)
  tags        = var.tags
}
