variable "env" {
  description = "Environment name; the bucket is <env>-ecsdef-<account_id> and the handoff stack handoff-<env>."
  type        = string
}

variable "keep_old_versions_days" {
  description = "How long old artifact versions (rollback targets) are kept."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags for the bucket and the approver topics."
  type        = map(string)
  default     = {}
}

variable "approvers" {
  description = "Every approver of every service in this environment (the union of the handoff-service modules' approvers), lowercase: each gets an approval topic with their email subscription."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.approvers : a == lower(a) && can(regex("^[^@\\s]+@[^@\\s]+$", a))])
    error_message = "approvers: lowercase email addresses."
  }
}

variable "approver_subscriber_arn" {
  description = "The only principal that may subscribe to the approvers' topics: an IAM role or user ARN (arn:aws:iam::<account>:role/<path><name>; never an sts assumed-role ARN, which aws:PrincipalArn never equals). null: the role Terraform runs as."
  type        = string
  default     = null
  validation {
    condition     = var.approver_subscriber_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$", var.approver_subscriber_arn))
    error_message = "approver_subscriber_arn: an IAM role or user ARN (arn:aws:iam::<account>:role/<path><name>), not an sts ARN."
  }
}
