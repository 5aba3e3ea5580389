# People decide through handoff's operator API: `handoff approve|reject`, `handoff deploy-now` and `handoff
# rollback` during a blue/green, linear or canary deployment send
# SigV4-signed requests to routes with AWS_IAM authorization. Their roles hold execute-api:Invoke on
# exactly those routes and nothing else of handoff's: no table writes, no states:SendTask*. Which
# service each may decide for is the registry's approver_principals / override_principals (main.tf);
# the operator API checks them against the ARN API Gateway authenticated, never one a request claims.

locals {
  # arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>; the stack's only stage is
  # $default, a literal here ("$${" would be Terraform's escape; "$d" needs none).
  operator_api = "arn:aws:execute-api:ap-northeast-1:123456789012:${data.aws_cloudformation_stack.handoff.outputs["OperatorApiId"]}/$default"
}

# Whoever the account lets assume these roles (SSO permission sets, a break-glass process) is its
# business, with one rule: a role is one person. A session name is whatever the caller passes to
# sts:AssumeRole, so it names nobody: handoff counts every session of one role as one identity, and a
# two-person rule needs two people's roles (or users). Here `approver` is alice's role.
data "aws_iam_policy_document" "people_trust" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::123456789012:root"]
    }
  }
}

resource "aws_iam_role" "approver" {
  name               = "approver"
  assume_role_policy = data.aws_iam_policy_document.people_trust.json
}

data "aws_iam_policy_document" "approver" {
  statement {
    sid       = "DecideApprovals"
    actions   = ["execute-api:Invoke"]
    resources = ["${local.operator_api}/POST/approvals/*/approve", "${local.operator_api}/POST/approvals/*/reject"]
  }
}

resource "aws_iam_role_policy" "approver" {
  name   = "handoff-operator-api"
  role   = aws_iam_role.approver.id
  policy = data.aws_iam_policy_document.approver.json
}

resource "aws_iam_role" "oncall" {
  name               = "oncall"
  assume_role_policy = data.aws_iam_policy_document.people_trust.json
}

data "aws_iam_policy_document" "oncall" {
  statement {
    sid       = "DeployNowAndRollBack"
    actions   = ["execute-api:Invoke"]
    resources = ["${local.operator_api}/POST/deployments/*/deploy-now", "${local.operator_api}/POST/deployments/*/rollback"]
  }
}

resource "aws_iam_role_policy" "oncall" {
  name   = "handoff-operator-api"
  role   = aws_iam_role.oncall.id
  policy = data.aws_iam_policy_document.oncall.json
}
