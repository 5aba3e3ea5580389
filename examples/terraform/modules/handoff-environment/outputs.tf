output "bucket_name" {
  description = "The bucket CI uploads <service_id>/imagedefinitions.json.zip to."
  value       = aws_s3_bucket.artifacts.bucket
}

output "bucket_arn" {
  value = aws_s3_bucket.artifacts.arn
}

output "approver_topic_arns" {
  description = "Each approver's approval topic (handoff publishes their links there)."
  value       = { for approver, topic in aws_sns_topic.approver : approver => topic.arn }
}
