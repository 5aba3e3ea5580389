# Example: the prod environment of one account, with two services: api (an app behind nginx) and
# worker (an app with a log-router sidecar that stays Terraform's).
# Deploy the handoff stack first (sam deploy --config-env prod); its outputs feed this.

provider "aws" {
  region = "ap-northeast-1"
}

data "aws_cloudformation_stack" "handoff" {
  name = "handoff-prod"
}

locals {
  approvers = ["alice@example.com", "bob@example.com"] # both services' approvers
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

# Each service's CI assumes its own role, trusted only by that service's repository (GitHub Actions
# OIDC here; any CI with OIDC works the same way).
data "aws_iam_openid_connect_provider" "github" {
  url = "https://token.actions.githubusercontent.com"
}

data "aws_iam_policy_document" "ci_trust" {
  for_each = {
    api    = "repo:example/api:ref:refs/heads/main"
    worker = "repo:example/worker:ref:refs/heads/main"
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
}

module "worker" {
  source                = "./modules/handoff-service"
  env                   = "prod"
  service_id            = "worker"
  cluster_name          = aws_ecs_cluster.prod.name
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
}
