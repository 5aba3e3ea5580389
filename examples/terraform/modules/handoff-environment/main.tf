# What one environment needs from Terraform before handoff can deploy there: the bucket CI uploads
# imagedefinitions.json.zip to, and each approver's topic for approval links. (The handoff stack itself
# is deployed with `sam deploy`.)

data "aws_caller_identity" "current" {}

locals {
  bucket_name = "${var.env}-ecsdef-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket" "artifacts" {
  bucket = local.bucket_name
  tags   = var.tags
}

# handoff deploys exact object versions, and rollback re-uploads older ones: versioning is required.
resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# The trigger: S3 sends "Object Created" events to EventBridge, where the handoff stack's rule listens.
resource "aws_s3_bucket_notification" "artifacts" {
  bucket      = aws_s3_bucket.artifacts.id
  eventbridge = true
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    id     = "keep-rollback-targets"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.keep_old_versions_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.tls_only.json
}

# --- approval links: one topic per approver ------------------------------------------------------------
# handoff publishes each approver's link to that approver's own topic, whose only subscription is their
# email address: no filter policy decides who gets a link (SNS applies filter changes up to 15 minutes
# late), and a subscription's endpoint cannot change. Before each link, handoff checks the topic has
# exactly this one confirmed email subscription; anything else stops the gate. The name is handoff's rule
# (ecs_handoff.approvals.channel.topic_name): handoff-<env>-approver-<first 16 hex of sha256(address)>.
# A topic per environment, not per service: an approver of several services has one topic.

data "aws_iam_session_context" "current" {
  arn = data.aws_caller_identity.current.arn
}

locals {
  # The role Terraform runs as (its iam ARN: aws:PrincipalArn of a role session is the role's, not the
  # sts assumed-role ARN), unless given.
  approver_subscriber_arn = coalesce(var.approver_subscriber_arn, data.aws_iam_session_context.current.issuer_arn)
}

resource "aws_sns_topic" "approver" {
  for_each          = toset(var.approvers)
  name              = "handoff-${var.env}-approver-${substr(sha256(lower(each.value)), 0, 16)}"
  kms_master_key_id = "alias/aws/sns"
  tags              = merge(var.tags, { "handoff-approver" = each.value })
}

# The approver confirms it from AWS's email; until then handoff sends them no link (and says why).
resource "aws_sns_topic_subscription" "approver" {
  for_each  = toset(var.approvers)
  topic_arn = aws_sns_topic.approver[each.value].arn
  protocol  = "email"
  endpoint  = each.value
}

# Only Terraform's role may subscribe: anyone else's subscription would receive the approver's links (and
# would stop the gate until removed).
data "aws_iam_policy_document" "approver_topic" {
  for_each = toset(var.approvers)
  statement {
    sid       = "OnlyTerraformSubscribes"
    effect    = "Deny"
    actions   = ["sns:Subscribe"]
    resources = [aws_sns_topic.approver[each.value].arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [local.approver_subscriber_arn]
    }
  }
}

resource "aws_sns_topic_policy" "approver" {
  for_each = toset(var.approvers)
  arn      = aws_sns_topic.approver[each.value].arn
  policy   = data.aws_iam_policy_document.approver_topic[each.value].json
}
