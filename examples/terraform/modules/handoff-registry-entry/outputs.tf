output "registry_parameter" {
  description = "The SSM parameter handoff reads for this service."
  value       = aws_ssm_parameter.entry.name
}

output "artifact_key" {
  description = "Where CI uploads imagedefinitions.json.zip, relative to the environment's bucket."
  value       = "${var.service_id}/imagedefinitions.json.zip"
}

output "service_tags" {
  description = "The tag the ECS service must carry: handoff's deploy and rollback roles may call UpdateService only on services tagged handoff:env=<env> (merge it into the aws_ecs_service's tags; handoff doctor checks it)."
  value       = { "handoff:env" = var.env }
}
