output "bucket_name" {
  description = "The bucket CI uploads <service_id>/imagedefinitions.json.zip to."
  value       = aws_s3_bucket.artifacts.bucket
}

output "bucket_arn" {
  value = aws_s3_bucket.artifacts.arn
}
