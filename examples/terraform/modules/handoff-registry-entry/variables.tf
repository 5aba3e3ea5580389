variable "env" {
  description = "Environment name (the handoff stack is handoff-<env>)."
  type        = string
}

variable "service_id" {
  description = "The id CI uploads under (<service_id>/imagedefinitions.json.zip) and the registry entry's name; need not be the ECS service's name."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$", var.service_id))
    error_message = "service_id: lowercase letters, digits and '-', 1-40 characters, as handoff's intake requires."
  }
}

variable "cluster_name" {
  description = "The name of the ECS cluster the service runs in (aws_ecs_cluster.<name>.name)."
  type        = string
}

variable "service_name" {
  description = "The ECS service handoff deploys to (aws_ecs_service.<name>.name). It must carry the tag in output service_tags."
  type        = string
}

variable "task_definition_arn" {
  description = "The base: the exact task definition revision Terraform registered (aws_ecs_task_definition.<name>.arn). handoff builds each revision from it, replacing only the images CI lists."
  type        = string
}

variable "tags" {
  description = "Tags for the SSM parameter."
  type        = map(string)
  default     = {}
}

variable "approval_required" {
  description = "Whether a person must approve each deployment (prod: true; RequireApproval=true forces it anyway)."
  type        = bool
  default     = false
}

variable "approvers" {
  description = "Approvers' email addresses, lowercase. Each needs an approval topic: list them in handoff-environment's approvers too."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for a in var.approvers : a == lower(a) && can(regex("^[^@\\s]+@[^@\\s]+$", a))])
    error_message = "approvers: lowercase email addresses."
  }
}

variable "approvals_required" {
  description = "How many different approvers must approve."
  type        = number
  default     = 1
}

variable "approval_stage" {
  description = "before_deploy, or before_production_traffic (a BLUE_GREEN, LINEAR or CANARY service with a PAUSE hook at POST_TEST_TRAFFIC_SHIFT whose timeout action is ROLLBACK and whose timeout is at least approval_timeout_seconds)."
  type        = string
  default     = "before_deploy"
  validation {
    condition     = contains(["before_deploy", "before_production_traffic"], var.approval_stage)
    error_message = "approval_stage: before_deploy or before_production_traffic."
  }
}

variable "test_traffic" {
  description = "How approvers reach green on the test listener: { url = \"https://...\", header = \"x-name: value\" } (either may be empty); null: not shown."
  type        = object({ url = optional(string, ""), header = optional(string, "") })
  default     = null
}

variable "rollout_timeout_seconds" {
  description = "How long a rollout may take before handoff calls it FAILED and rolls back."
  type        = number
  default     = 1800
}

variable "approval_timeout_seconds" {
  description = "How long an approval stays open (at most 7 days) before the deployment is EXPIRED."
  type        = number
  default     = 86400
}

variable "poll_interval_seconds" {
  description = "How often a deployment waiting for the service's lock looks again."
  type        = number
  default     = 15
}

variable "rollout_check_seconds" {
  description = "ECS's deployment events decide the rollout; when none has come for this long, handoff looks at the deployment itself (and again after each such interval, up to the rollout timeout)."
  type        = number
  default     = 180
}

variable "lock_timeout_seconds" {
  description = "How long a deployment waits for the one before it to finish before it gives up (FAILED)."
  type        = number
  default     = 3600
}

variable "keep_revisions" {
  description = "handoff deregisters its own task definition revisions beyond the newest N (never Terraform's)."
  type        = number
  default     = 10
}

variable "containers" {
  description = "The containers CI may set (null: every container). List only what CI builds, so sidecars such as a log router keep the image Terraform gives them."
  type        = list(string)
  default     = null
}

variable "allowed_registries" {
  description = "Registry hosts images may come from (null: this account's ECR in this region), e.g. [\"<account>.dkr.ecr.<region>.amazonaws.com\", \"public.ecr.aws\"]."
  type        = list(string)
  default     = null
}

variable "pin_digests" {
  description = "Deploy this account's ECR images by the digest their tag had when uploaded, so a tag pushed again cannot change what runs."
  type        = bool
  default     = true
}

variable "approver_principals" {
  description = "IAM principal ARNs (patterns with *) allowed to decide from `handoff approve|reject`, each mapped to the approver address it acts as."
  type        = map(string)
  default     = {}
}

# --- release controls (all optional) ---------------------------------------------------------------

variable "deploy_windows" {
  description = "When this service may be deployed, e.g. [{ days = \"MON-FRI\", hours = \"10:00-17:00\", time_zone = \"Asia/Tokyo\" }] (null: any time). Outside every window a deployment waits, approved or not."
  type = list(object({
    days      = optional(string, "*")
    hours     = string
    time_zone = optional(string, "UTC")
  }))
  default = null
}

variable "change_calendar" {
  description = "An SSM Change Calendar (name or ARN): deploy only while it is OPEN (null: none). Use this or deploy_windows."
  type        = string
  default     = null
}

variable "blocking_alarms" {
  description = "CloudWatch alarm names: no deployment starts while one is in ALARM, and one going to ALARM during the bake rolls back (null: none)."
  type        = list(string)
  default     = null
}

variable "bake_seconds" {
  description = "After the rollout COMPLETED, watch blocking_alarms this long (0: no bake). Alarms ECS already watches (the service's deployment alarms) are left to ECS."
  type        = number
  default     = 0
}

variable "gate_poll_seconds" {
  description = "How often a held deployment, or the bake, looks at its controls again."
  type        = number
  default     = 60
}

variable "max_gate_wait_seconds" {
  description = "The longest a deployment waits for its window, calendar or alarms before it ends EXPIRED."
  type        = number
  default     = 86400
}

variable "override_principals" {
  description = "IAM principal ARNs (patterns with *) allowed to start a held deployment with `handoff deploy-now --reason ...`."
  type        = list(string)
  default     = []
}

variable "promotion" {
  description = <<-EOT
    Accept only images promoted from another environment with `handoff promote`: `from` (its name),
    `soak_seconds` (how long they ran there since SUCCEEDED), `key_id` (that environment's stack output
    PromotionKeyArn) and `public_key` (its PEM: data.aws_kms_public_key's public_key_pem), `max_age_seconds`
    (how old the signed statement may be; default 3600). null: any upload CI makes.
  EOT
  type = object({
    from            = string
    soak_seconds    = number
    key_id          = string
    public_key      = string
    max_age_seconds = optional(number, 3600)
  })
  default = null
}
