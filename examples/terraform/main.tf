# Example: the prod environment of one account, with three services. handoff-service creates api (an app
# behind nginx, behind an ALB, autoscaled) and worker (an app with a log-router sidecar that stays
# Terraform's, mostly on Fargate Spot); billing (existing_service.tf) stays in its team's own Terraform and
# gets only its registry entry (handoff-registry-entry).
#
# Order of operations (docs/terraform.md, "Order of operations"): the environment first, then the stack,
# then the rest, which reads the stack's outputs:
#   terraform apply -target=module.prod      # the bucket and approvers' topics; needs nothing of the stack
#   sam deploy --config-env prod             # the handoff-prod stack
#   terraform apply                          # cluster, services, registry entries, CI and people's roles
# Later applies are one `terraform apply`.

provider "aws" {
  region = "ap-northeast-1"
}

data "aws_cloudformation_stack" "handoff" {
  name = "handoff-prod"
}

locals {
  approvers = ["alice@example.com", "bob@example.com"] # both services' approvers
}

# Promotion (docs/terraform.md, "Promotion"): prod takes api only as `handoff promote` carries it from stg, which
# signs what succeeded there with its stack's KMS key. prod trusts that key: its ARN and public key, read from the
# stg account once per apply (kms:GetPublicKey and cloudformation:DescribeStacks there, nothing else). Neither
# account can write to the other; the intake verifies with the public key alone, no call to stg.
provider "aws" {
  alias  = "stg"
  region = "ap-northeast-1"
  assume_role {
    role_arn = "arn:aws:iam::210987654321:role/terraform-read-handoff" # stg's account
  }
}

data "aws_cloudformation_stack" "stg" {
  provider = aws.stg
  name     = "handoff-stg"
}

data "aws_kms_public_key" "stg_promotion" {
  provider = aws.stg
  key_id   = data.aws_cloudformation_stack.stg.outputs["PromotionKeyArn"]
}

module "prod" {
  source = "./modules/handoff-environment"
  env    = "prod"
  # Each approver's topic (their links go there) with their email subscription; only the role this runs
  # as may subscribe (or set approver_subscriber_arn).
  approvers = local.approvers
}

resource "aws_ecs_cluster" "prod" {
  name = "prod"
}

# Fargate and Fargate Spot for services that name a capacity provider strategy (worker).
resource "aws_ecs_cluster_capacity_providers" "prod" {
  cluster_name       = aws_ecs_cluster.prod.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]
}

# The public ALB and api's target group (target_type "ip", as Fargate's awsvpc networking needs) are the
# network's Terraform; the service module attaches the service to the target group.
data "aws_lb" "public" {
  name = "prod-public"
}

data "aws_lb_target_group" "api" {
  name = "prod-api"
}

# Each service's CI assumes its own role, trusted only by that service's repository (GitHub Actions
# OIDC here; any CI with OIDC works the same way).
data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

data "aws_iam_policy_document" "ci_trust" {
  for_each = {
    api    = "repo:example/api:ref:refs/heads/main"
    worker = "repo:example/worker:ref:refs/heads/main"
    web    = "repo:example/web:ref:refs/heads/main"
  }
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [data.aws_iam_openid_connect_provider.github.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = [each.value]
    }
  }
}

module "api" {
  source                = "./modules/handoff-service"
  env                   = "prod"
  service_id            = "api"
  cluster_name          = aws_ecs_cluster.prod.name
  bucket_name           = module.prod.bucket_name
  task_role_arn         = "arn:aws:iam::123456789012:role/ecs/prod-api-task"
  execution_role_arn    = "arn:aws:iam::123456789012:role/ecs/prod-api-execution"
  subnet_ids            = ["subnet-0123456789abcdef0"]
  security_group_ids    = ["sg-0123456789abcdef0"]
  ecr_repository_arn    = "arn:aws:ecr:ap-northeast-1:123456789012:repository/api"
  ci_assume_role_policy = data.aws_iam_policy_document.ci_trust["api"].json
  approval_required     = true
  approvers             = local.approvers
  approver_principals   = { "arn:aws:sts::123456789012:assumed-role/approver/*" = "alice@example.com" } # alice's role
  override_principals   = ["arn:aws:sts::123456789012:assumed-role/oncall/*"]                           # people.tf: their roles
  promotion = {
    from         = "stg"
    soak_seconds = 7200 # two hours in stg without a rollback
    key_id       = data.aws_kms_public_key.stg_promotion.arn
    public_key   = data.aws_kms_public_key.stg_promotion.public_key_pem
  }
  container_definitions = [
    {
      name        = "app-container"
      image       = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api:prod-initial"
      essential   = true
      environment = [{ name = "APP_ENV", value = "prod" }]
      secrets     = [{ name = "DB_PASSWORD", valueFrom = "arn:aws:ssm:ap-northeast-1:123456789012:parameter/prod/db" }]
    },
    {
      name         = "nginx-container"
      image        = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/api-nginx:prod-initial"
      essential    = true
      portMappings = [{ containerPort = 80 }]
    },
  ]
  # ECS registers each task's nginx with the ALB's target group; handoff's revisions keep its name and port.
  load_balancers = [{ target_group_arn = data.aws_lb_target_group.api.arn, container_name = "nginx-container", container_port = 80 }]
  autoscaling = {
    min_capacity                 = 2
    max_capacity                 = 10
    cpu_target                   = 60
    request_count_target         = 500
    request_count_resource_label = "${data.aws_lb.public.arn_suffix}/${data.aws_lb_target_group.api.arn_suffix}"
  }
}

module "worker" {
  source                = "./modules/handoff-service"
  env                   = "prod"
  service_id            = "worker"
  cluster_name          = aws_ecs_cluster_capacity_providers.prod.cluster_name # after the providers are associated
  bucket_name           = module.prod.bucket_name
  task_role_arn         = "arn:aws:iam::123456789012:role/ecs/prod-worker-task"
  execution_role_arn    = "arn:aws:iam::123456789012:role/ecs/prod-worker-execution"
  subnet_ids            = ["subnet-0123456789abcdef0"]
  security_group_ids    = ["sg-0123456789abcdef0"]
  ecr_repository_arn    = "arn:aws:ecr:ap-northeast-1:123456789012:repository/worker"
  ci_assume_role_policy = data.aws_iam_policy_document.ci_trust["worker"].json
  approval_required     = true
  approvers             = local.approvers
  containers            = ["app"] # CI builds only the app; the log router's image is Terraform's
  container_definitions = [
    {
      name      = "app"
      image     = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/worker:prod-initial"
      essential = true
    },
    {
      name                  = "log-router"
      image                 = "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable"
      essential             = false
      firelensConfiguration = { type = "fluentbit" }
    },
  ]
  # Mostly Spot, with one task always on regular Fargate.
  capacity_provider_strategy = [
    { capacity_provider = "FARGATE_SPOT", weight = 3 },
    { capacity_provider = "FARGATE", weight = 1, base = 1 },
  ]
}

# web: ECS's own blue/green deployment behind the public ALB. ECS starts each release in the green target group,
# sends the test listener (:8443) to it, then production; before production moves, handoff's lifecycle hook
# holds the shift while web's release controls do (a window here). The stack's outputs name the hook and the
# role ECS invokes it with.
module "web" {
  source                = "./modules/handoff-service"
  env                   = "prod"
  service_id            = "web"
  cluster_name          = aws_ecs_cluster.prod.name
  bucket_name           = module.prod.bucket_name
  task_role_arn         = "arn:aws:iam::123456789012:role/ecs/prod-web-task"
  execution_role_arn    = "arn:aws:iam::123456789012:role/ecs/prod-web-execution"
  subnet_ids            = ["subnet-0123456789abcdef0"]
  security_group_ids    = ["sg-0123456789abcdef0"]
  ecr_repository_arn    = "arn:aws:ecr:ap-northeast-1:123456789012:repository/web"
  ci_assume_role_policy = data.aws_iam_policy_document.ci_trust["web"].json
  approval_required     = true
  approvers             = local.approvers
  override_principals   = ["arn:aws:sts::123456789012:assumed-role/oncall/*"] # deploy-now, and rollback mid-deployment
  deploy_windows        = [{ days = "MON-FRI", hours = "09:00-17:00", time_zone = "Asia/Tokyo" }]
  # A shift held past 17:00 waits for the next morning (16 h); the rollout's timeout counts from the deploy, holds
  # included, so it outlasts the longest hold plus the deployment itself (`handoff doctor` checks it).
  max_gate_wait_seconds   = 64800
  rollout_timeout_seconds = 86400
  container_definitions = [
    {
      name         = "web"
      image        = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/web:prod-initial"
      essential    = true
      portMappings = [{ containerPort = 8080 }]
    },
  ]
  traffic = {
    strategy                = "BLUE_GREEN"
    bake_time_in_minutes    = 15
    vpc_id                  = "vpc-0123456789abcdef0"
    container_name          = "web"
    container_port          = 8080
    health_check_path       = "/healthz"
    production_listener_arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/prod-public/0123456789abcdef/0123456789abcdef"
    test_listener_arn       = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/prod-public/0123456789abcdef/fedcba9876543210"
    path_patterns           = ["/web/*"]
    rule_priority           = 20
    deployment_alarms       = ["prod-web-5xx"]
    hook_function_arn       = data.aws_cloudformation_stack.handoff.outputs["LifecycleHookFunctionArn"]
    hook_role_arn           = data.aws_cloudformation_stack.handoff.outputs["LifecycleHookRoleArn"]
  }
}
