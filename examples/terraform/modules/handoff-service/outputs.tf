output "registry_parameter" {
  description = "The SSM parameter handoff reads for this service."
  value       = module.registry.registry_parameter
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

output "autoscaling_resource_id" {
  description = "The service's Application Auto Scaling target (service/<cluster>/<service>), for scheduled actions or more policies."
  value       = aws_appautoscaling_target.this.resource_id
}
