variable "env" {
  description = "Environment name (the handoff stack is handoff-<env>)."
  type        = string
}

variable "service_id" {
  description = "The id CI uploads under (<service_id>/imagedefinitions.json.zip); also the ECS service name."
  type        = string # validated by the registry module, as handoff's intake requires
}

variable "cluster_name" {
  description = "ECS cluster the service runs in."
  type        = string
}

variable "bucket_name" {
  description = "The environment's artifact bucket (handoff-environment's bucket_name output)."
  type        = string
}

variable "container_definitions" {
  description = "Container definitions of the base task definition; CI replaces only the images it lists."
  type        = any
}

variable "cpu" {
  type    = string
  default = "512"
}

variable "memory" {
  type    = string
  default = "1024"
}

variable "task_role_arn" {
  description = "Task role; must be under the IAM path the stack's EcsRolePath allows (default /ecs/)."
  type        = string
}

variable "execution_role_arn" {
  description = "Execution role; must be under the IAM path the stack's EcsRolePath allows (default /ecs/)."
  type        = string
}

variable "desired_count" {
  description = "How many tasks run. Without autoscaling this is both bounds of the service's scalable target, so a change here reaches the service; with autoscaling, only the count the service starts with."
  type        = number
  default     = 2
}

variable "requires_compatibilities" {
  description = "Launch types the base task definition is valid for: [\"FARGATE\"], or [\"EC2\"] for capacity providers backed by Auto Scaling groups."
  type        = list(string)
  default     = ["FARGATE"]
}

variable "capacity_provider_strategy" {
  description = "Capacity providers the service's tasks are placed with, e.g. [{ capacity_provider = \"FARGATE_SPOT\", weight = 3 }, { capacity_provider = \"FARGATE\", weight = 1, base = 1 }]; each must be associated with the cluster (aws_ecs_cluster_capacity_providers). Empty: launch type FARGATE. Moving an existing service between the two makes the AWS provider replace it: plan first."
  type = list(object({
    capacity_provider = string
    weight            = optional(number, 1)
    base              = optional(number, 0)
  }))
  default = []
}

variable "load_balancers" {
  description = "Target groups ECS registers the service's tasks with: the container and port of the base task definition that serve traffic. With awsvpc networking (Fargate) the target group's target_type must be \"ip\"."
  type = list(object({
    target_group_arn = string
    container_name   = string
    container_port   = number
  }))
  default = []
}

variable "health_check_grace_period_seconds" {
  description = "With load_balancers: how long ECS ignores failing load balancer health checks of a new task. Too short, and a slow-starting revision fails its rollout (and handoff rolls it back)."
  type        = number
  default     = 60
}

variable "autoscaling" {
  description = "Application Auto Scaling of the task count between min_capacity and max_capacity, with a target tracking policy for each target given: average CPU and memory utilisation (percent) and ALB requests per target (request_count_resource_label: \"<aws_lb arn_suffix>/<aws_lb_target_group arn_suffix>\"). null: a fixed desired_count."
  type = object({
    min_capacity                 = number
    max_capacity                 = number
    cpu_target                   = optional(number)
    memory_target                = optional(number)
    request_count_target         = optional(number)
    request_count_resource_label = optional(string)
    scale_in_cooldown            = optional(number, 300)
    scale_out_cooldown           = optional(number, 60)
  })
  default = null
  validation {
    condition     = var.autoscaling == null ? true : var.autoscaling.min_capacity <= var.autoscaling.max_capacity && (var.autoscaling.request_count_target == null || var.autoscaling.request_count_resource_label != null)
    error_message = "autoscaling: min_capacity at most max_capacity, and request_count_target needs request_count_resource_label."
  }
}

variable "subnet_ids" {
  type = list(string)
}

variable "security_group_ids" {
  type = list(string)
}

variable "approval_required" {
  description = "Whether a person must approve each deployment (prod: true; RequireApproval=true forces it anyway)."
  type        = bool
  default     = false
}

variable "approvers" {
  description = "Approvers' email addresses, lowercase. Each needs an approval topic: list them in handoff-environment's approvers too."
  type        = list(string)
  default     = [] # validated by the registry module
}

variable "approvals_required" {
  description = "How many different approvers must approve."
  type        = number
  default     = 1
}

variable "approval_stage" {
  description = "before_deploy, or before_production_traffic (the service's strategy must then be BLUE_GREEN, LINEAR or CANARY with a PAUSE hook at POST_TEST_TRAFFIC_SHIFT)."
  type        = string
  default     = "before_deploy"
}

variable "test_traffic" {
  description = "How approvers reach green on the test listener: { url, header }; null: not shown."
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

variable "ecr_repository_arn" {
  description = "The ECR repository CI pushes this service's images to."
  type        = string
}

variable "ci_assume_role_policy" {
  description = "Trust policy (JSON) of this service's own CI role: only this service's pipeline may assume it (e.g. GitHub Actions OIDC with a sub of this repository). The module creates the role, so no two services share one."
  type        = string
}

variable "tags" {
  type    = map(string)
  default = {}
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

variable "traffic" {
  description = <<-EOT
    ECS's own traffic-shifting deployment (null: rolling updates, as before). The module creates a blue and a
    green target group, a rule on the production listener and one on the test listener (forwarding to blue
    100 / green 0; ECS moves the weights), the role ECS uses to change them, and the deployment configuration:
    strategy BLUE_GREEN, LINEAR or CANARY, its bake times, deployment alarms, and handoff's lifecycle hook before
    each production traffic shift (the handoff stack's LifecycleHookFunctionArn and LifecycleHookRoleArn), which
    holds a shift while a release control (deploy_windows, change_calendar, blocking_alarms) does.
  EOT
  type = object({
    strategy                = string
    bake_time_in_minutes    = optional(number, 0)
    linear                  = optional(object({ step_percent = optional(number, 10), step_bake_time_in_minutes = optional(number, 6) }))
    canary                  = optional(object({ canary_percent = optional(number, 5), canary_bake_time_in_minutes = optional(number, 10) }))
    vpc_id                  = string
    container_name          = string
    container_port          = number
    health_check_path       = optional(string, "/")
    production_listener_arn = string
    test_listener_arn       = string
    path_patterns           = optional(list(string), ["/*"])
    rule_priority           = number
    deployment_alarms       = optional(list(string), [])
    hook_function_arn       = string
    hook_role_arn           = string
  })
  default = null

  validation {
    condition     = var.traffic == null || contains(["BLUE_GREEN", "LINEAR", "CANARY"], try(var.traffic.strategy, ""))
    error_message = "traffic.strategy must be BLUE_GREEN, LINEAR or CANARY."
  }
  validation {
    condition     = var.traffic == null || try(var.traffic.strategy, "") != "LINEAR" || try(var.traffic.linear, null) != null
    error_message = "traffic.linear (step_percent, step_bake_time_in_minutes) is needed with LINEAR."
  }
  validation {
    condition     = var.traffic == null || try(var.traffic.strategy, "") != "CANARY" || try(var.traffic.canary, null) != null
    error_message = "traffic.canary (canary_percent, canary_bake_time_in_minutes) is needed with CANARY."
  }
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
