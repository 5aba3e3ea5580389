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
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
}
