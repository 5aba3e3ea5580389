"""Provisions template.yaml into the embedded AWS as `sam package` + `sam deploy` would.

Function and layer code is zipped into the emulated S3, the SAM transform runs with
samtranslator, and moto's CloudFormation creates the stack. moto does not apply a state
machine's DefinitionSubstitutions, so they are resolved here from the stack's own resources and
the definition is loaded into the Step Functions interpreter (the one gap this module fills)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

STAGING_BUCKET = "handoff-embedded-sam-artifacts"
_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
    "Sub": "Fn::Sub",
    "If": "Fn::If",
    "Equals": "Fn::Equals",
    "Not": "Fn::Not",
    "And": "Fn::And",
    "Or": "Fn::Or",
    "Join": "Fn::Join",
    "Select": "Fn::Select",
    "Split": "Fn::Split",
    "FindInMap": "Fn::FindInMap",
    "Base64": "Fn::Base64",
    "GetAZs": "Fn::GetAZs",
    "ImportValue": "Fn::ImportValue",
}


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    """YAML with CloudFormation's short-form intrinsic tags (!Ref, !Sub, ...)."""


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {_SHORT_TAGS[tag]: value}

    return construct


for _tag in _SHORT_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader
    return data


def function_variables(root: Path) -> dict[str, dict[str, str]]:
    """Each function's environment variables as template.yaml sets them (Globals and its own), keyed by its
    code folder under functions/; a parameter's default stands for its !Ref, "placeholder" for any other
    value CloudFormation would fill in. For running a handler outside a stack: the benchmark's cold
    starts, and the test that holds each function's settings model to its template entry."""
    template = load_template(root / "template.yaml")
    defaults = {name: str(p.get("Default", "placeholder")) for name, p in template.get("Parameters", {}).items()}

    def value(raw: Any) -> str:
        if isinstance(raw, dict) and set(raw) == {"Ref"} and raw["Ref"] in defaults:
            return defaults[raw["Ref"]] or "placeholder"
        return raw if isinstance(raw, str) else "placeholder"

    shared = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    found: dict[str, dict[str, str]] = {}
    for resource in template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        own = properties.get("Environment", {}).get("Variables", {})
        found[Path(properties["CodeUri"]).name] = {k: value(v) for k, v in {**shared, **own}.items()}
    return found


def zip_dir(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


class _NoManagedPolicies:
    """samtranslator asks IAM for AWS managed policy ARNs only for policies named without an ARN."""

    def load(self) -> dict[str, str]:
        return {}


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    functions: dict[str, Path] = field(default_factory=dict)  # deployed function name -> code folder
    state_machine_arn: str = ""
    http_apis: dict[str, str] = field(default_factory=dict)  # logical id of each HttpApi -> its API id


def provision(
    session: Any,
    root: Path,
    stack_name: str,
    parameters: dict[str, str],
    account_id: str,
    region: str,
) -> Stack:
    from samtranslator.translator.transform import transform

    s3 = session.client("s3")
    staging = staging_bucket(account_id)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=staging, CreateBucketConfiguration={"LocationConstraint": region})

    template = load_template(root / "template.yaml")
    staged = _stage(template, root, s3, staging, stack_name)
    code_dirs, definitions, substitutions = staged.code_dirs, staged.definitions, staged.substitutions

    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
    }
    translated = transform(template, {**parameters, **pseudo}, _NoManagedPolicies())
    apis = _fill_unsupported(translated, session, {**parameters, **pseudo})

    cfn = session.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    _wait_created(cfn, stack_name)

    physical = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        if "LogicalResourceId" in r
    }
    stack = Stack(
        name=stack_name,
        outputs={
            o["OutputKey"]: o["OutputValue"]
            for o in cfn.describe_stacks(StackName=stack_name)["Stacks"][0].get("Outputs", [])
        },
        functions={physical[logical]: path for logical, path in code_dirs.items()},
        http_apis={logical: api_id for logical, (api_id, _) in apis.items()},
    )
    for api_id, body in apis.values():
        _create_routes(session, api_id, body, physical, account_id, region)
    _configure_async_invocation(session, translated, stack_name, account_id, region)
    for logical_id, text in definitions.items():
        stack.state_machine_arn = _load_state_machine(
            stack_name, logical_id, text, substitutions[logical_id], physical, account_id, region
        )
    return stack


@dataclass
class _Staged:
    code_dirs: dict[str, Path] = field(default_factory=dict)  # function logical id -> its code
    definitions: dict[str, str] = field(default_factory=dict)  # state machine logical id -> its ASL
    substitutions: dict[str, dict[str, Any]] = field(default_factory=dict)  # ... -> its DefinitionSubstitutions


def _stage(template: dict[str, Any], root: Path, s3: Any, staging: str, stack_name: str) -> _Staged:
    """As `sam package` does: each function's and layer's code zipped to the staging bucket; each state machine's
    ASL set aside (loaded once the stack names the functions it calls) behind a placeholder definition."""
    staged = _Staged()
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            staged.code_dirs[logical_id] = root / props["CodeUri"]
            props["CodeUri"] = _upload(s3, staging, f"{stack_name}/{logical_id}.zip", staged.code_dirs[logical_id])
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = _upload(s3, staging, f"{stack_name}/{logical_id}.zip", root / props["ContentUri"])
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            staged.definitions[logical_id] = (root / props.pop("DefinitionUri")).read_text(encoding="utf-8")
            props["Definition"] = {"StartAt": "Placeholder", "States": {"Placeholder": {"Type": "Succeed"}}}
            staged.substitutions[logical_id] = props.pop("DefinitionSubstitutions", {})
            props.pop("Logging", None)  # moto cannot deliver vended logs; nothing reads them here
    return staged


def staging_bucket(account_id: str) -> str:
    """`sam deploy`'s artifact bucket: one per account (bucket names are global, as in S3)."""
    return STAGING_BUCKET if account_id == "123456789012" else f"{STAGING_BUCKET}-{account_id}"


def _upload(s3: Any, bucket: str, key: str, directory: Path) -> dict[str, str]:
    s3.put_object(Bucket=bucket, Key=key, Body=zip_dir(directory))
    return {"Bucket": bucket, "Key": key}


def _wait_created(cfn: Any, stack_name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        if status == "CREATE_COMPLETE":
            return
        if status.endswith("FAILED") or "ROLLBACK" in status or time.monotonic() > deadline:
            events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
            failed = [e for e in events if "FAILED" in e.get("ResourceStatus", "")]
            raise RuntimeError(f"stack {stack_name} ended {status}: {failed[:3]}")
        time.sleep(0.1)


def _load_state_machine(
    stack_name: str,
    logical_id: str,
    text: str,
    substitutions: dict[str, Any],
    physical: dict[str, str],
    account_id: str,
    region: str,
) -> str:
    """Resolve DefinitionSubstitutions from the stack's resources and load the definition for execution."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    cfn_backend = cloudformation_backends[account_id][region]
    stack = next(s for s in cfn_backend.stacks.values() if s.name == stack_name)
    resolved = {key: str(clean_json(value, stack.resource_map)) for key, value in substitutions.items()}
    definition = text
    for key, value in resolved.items():
        definition = definition.replace("${" + key + "}", value)
    if "${" in definition:
        raise RuntimeError(f"{logical_id}: unresolved substitution left in the definition")

    arn = physical[logical_id]
    created = stepfunctions_backends[account_id][region].describe_state_machine(arn)
    parser = stepfunctions_parser_backends[account_id][region]
    try:
        parser.describe_state_machine(arn)
        parser.update_state_machine(arn, definition=definition)
    except Exception:  # not there yet: the usual case
        parser.create_state_machine(name=created.name, definition=definition, roleArn=created.roleArn)
    return str(arn)


def _fill_unsupported(
    template: dict[str, Any], session: Any, parameters: dict[str, str]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Resources moto's CloudFormation cannot create, made here and referenced by value instead.

    - AWS::SecretsManager::Secret: created through the Secrets Manager API, with a generated value.
    - AWS::ApiGatewayV2::Api: created through moto's API Gateway v2 API (a Ref to it becomes its id); its
      routes are created from SAM's OpenAPI body once the functions exist (_create_routes), and served by
      http_api.HttpApi (the runtime points the API's URLs at 127.0.0.1). Its stage and other
      AWS::ApiGatewayV2 resources are left out.

    Returns each API's logical id -> (API id, OpenAPI body)."""
    values: dict[str, str] = {}
    apis: dict[str, tuple[str, dict[str, Any]]] = {}
    resources = template["Resources"]
    for logical_id, resource in list(resources.items()):
        kind = resource["Type"]
        if kind == "AWS::SecretsManager::Secret":
            props = resource.get("Properties", {})
            name = _sub(props.get("Name", logical_id), parameters)
            length = int(props.get("GenerateSecretString", {}).get("PasswordLength", 32))
            arn = session.client("secretsmanager").create_secret(
                Name=name, SecretString=secrets.token_urlsafe(length)[:length], Description=props.get("Description", "")
            )["ARN"]
            values[logical_id] = arn
            del resources[logical_id]
        elif kind.startswith("AWS::ApiGatewayV2::"):
            if kind == "AWS::ApiGatewayV2::Api":
                name = f"{parameters.get('AWS::StackName', 'handoff')}-{logical_id}"
                api_id = session.client("apigatewayv2").create_api(Name=name, ProtocolType="HTTP")["ApiId"]
                values[logical_id] = api_id
                apis[logical_id] = (api_id, resource.get("Properties", {}).get("Body", {}))
            del resources[logical_id]
    _replace_refs(template, values)
    return apis


def _create_routes(
    session: Any, api_id: str, body: dict[str, Any], physical: dict[str, str], account_id: str, region: str
) -> None:
    """The routes API Gateway creates when it imports SAM's OpenAPI body: one per path and verb, AWS_IAM
    where the operation's security names it (NONE otherwise), each integrated with its function."""
    apigateway = session.client("apigatewayv2")
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            uri = json.dumps(operation["x-amazon-apigateway-integration"]["uri"])
            function = physical[re.search(r"\$\{(\w+)\.Arn\}", uri).group(1)]  # type: ignore[union-attr]
            iam = any("AWS_IAM" in requirement for requirement in operation.get("security", []))
            integration = apigateway.create_integration(
                ApiId=api_id,
                IntegrationType="AWS_PROXY",
                IntegrationUri=f"arn:aws:lambda:{region}:{account_id}:function:{function}",
                PayloadFormatVersion="2.0",
            )
            apigateway.create_route(
                ApiId=api_id,
                RouteKey=f"{method.upper()} {path}",
                AuthorizationType="AWS_IAM" if iam else "NONE",
                Target=f"integrations/{integration['IntegrationId']}",
            )
    apigateway.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)


def routes_of(session: Any, api_id: str) -> list[tuple[str, str, str, str]]:
    """(method, path, function name, authorization type) of each route of an API, as API Gateway has them."""
    apigateway = session.client("apigatewayv2")
    integrations = {i["IntegrationId"]: i for i in apigateway.get_integrations(ApiId=api_id)["Items"]}
    found = []
    for route in apigateway.get_routes(ApiId=api_id)["Items"]:
        method, path = route["RouteKey"].split(" ", 1)
        integration = integrations[route["Target"].removeprefix("integrations/")]
        function = integration["IntegrationUri"].rsplit(":", 1)[-1]
        found.append((method, path, function, route.get("AuthorizationType", "NONE")))
    return found


def set_output(stack_name: str, key: str, value: str, account_id: str, region: str) -> None:
    """Points a stack output at what the embedded AWS serves it from (an API's URL on 127.0.0.1), so
    DescribeStacks, which the CLI reads, gives the address that works here."""
    from moto.cloudformation.models import cloudformation_backends

    stack = next(s for s in cloudformation_backends[account_id][region].stacks.values() if s.name == stack_name)
    output = stack.output_map[key]
    if output is not None:
        output.value = value


def _sub(value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        return re.sub(r"\$\{([\w:]+)\}", lambda m: parameters.get(m.group(1), m.group(0)), str(text))
    return str(value)


def _replace_refs(node: Any, values: dict[str, str]) -> Any:
    """Replace Ref / ${Name} to the given logical ids with their values, everywhere in the template."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in values:
            return values[node["Ref"]]
        for key, child in list(node.items()):
            if key == "Fn::Sub" and isinstance(child, str):
                for name, value in values.items():
                    child = child.replace("${" + name + "}", value)
                node[key] = child
            else:
                node[key] = _replace_refs(child, values)
        return node
    if isinstance(node, list):
        return [_replace_refs(child, values) for child in node]
    return node


def _configure_async_invocation(
    session: Any, template: dict[str, Any], stack_name: str, account_id: str, region: str
) -> None:
    """AWS::Lambda::EventInvokeConfig (SAM's EventInvokeConfig), which moto's CloudFormation skips, applied
    through Lambda's own API (PutFunctionEventInvokeConfig), where the embedded asynchronous invocation reads it."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.cloudformation.parsing import clean_json

    stack = next(s for s in cloudformation_backends[account_id][region].stacks.values() if s.name == stack_name)
    awslambda = session.client("lambda")
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventInvokeConfig":
            continue
        props = clean_json(resource["Properties"], stack.resource_map)
        config = {
            k: props[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig") if k in props
        }
        awslambda.put_function_event_invoke_config(FunctionName=str(props["FunctionName"]), **config)
