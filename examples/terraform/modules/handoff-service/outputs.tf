output "registry_parameter" {
  description = "The SSM parameter handoff reads for this service."
  value       = aws_ssm_parameter.registry.name
}

output "base_task_definition_arn" {
  value = aws_ecs_task_definition.base.arn
}

output "artifact_key" {
  description = "Where CI uploads imagedefinitions.json.zip."
  value       = "s3://${var.bucket_name}/${var.service_id}/imagedefinitions.json.zip"
}

output "ci_role_arn" {
  description = "The role this service's CI assumes (and no other service's CI)."
  value       = aws_iam_role.ci.arn
}
