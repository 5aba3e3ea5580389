"""Where the CLI's AWS is (an account and region, or the embedded AWS of `handoff local up`), and an
environment's resources, found from the outputs of its stack handoff-<env>."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecs_handoff.aws.clients import aws_call, client, error_code, reset_clients
from ecs_handoff.errors import ArtifactRejected, AwsAccessError, NotFound, TransientAwsError

from ecs_handoff_cli.exits import ConfigError, UsageError
from ecs_handoff_cli.local import LOCAL_STATE, LOCAL_VARIABLE

if TYPE_CHECKING:  # the models (pydantic) load only for the commands that use them: `handoff --help` stays fast
    from ecs_handoff.models import ServiceConfig

STACK_PREFIX = "handoff-"
# The outputs every handoff environment stack has: a stack named handoff-* without them is someone else's.
ENVIRONMENT_OUTPUTS = frozenset({"ArtifactBucketName", "RegistryPrefix", "DeploymentsTableName", "ApprovalsTableName"})


def find_local_state(start: Path | None = None) -> Path:
    """The local.json of a running `handoff local up`: $HANDOFF_LOCAL (the file or its folder), else the
    nearest .handoff/local.json in this folder or any folder above it, as git finds .git."""
    explicit = os.environ.get(LOCAL_VARIABLE)
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_dir():
            path = path / LOCAL_STATE if (path / LOCAL_STATE).exists() else path / LOCAL_STATE.name
        if not path.is_file():
            raise NotFound(f"{LOCAL_VARIABLE}={explicit} names no local.json; is `handoff local up` running there?")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / LOCAL_STATE
        if candidate.is_file():
            return candidate
    raise NotFound(
        f"no {LOCAL_STATE} in {here} or any folder above it: start the embedded AWS with `handoff local up` "
        f"(it writes that file where it runs), or set {LOCAL_VARIABLE} to the file's path"
    )


def use_local(path: Path) -> dict[str, Any]:
    """Point every AWS call of this process at the embedded AWS described by path."""
    try:
        local: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        endpoint, region = str(local["aws_endpoint"]), str(local["region"])
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"{path} is not a local.json written by `handoff local up`: {exc}") from exc
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_ACCESS_KEY_ID"] = os.environ.get("AWS_ACCESS_KEY_ID", "testing")
    os.environ["AWS_SECRET_ACCESS_KEY"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_PROFILE", None)  # a real profile's credentials must never reach the embedded AWS
    if local.get("credentials_file"):  # `handoff local up --account-per-env`: a profile per account
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(local["credentials_file"])
    reset_clients()
    return local


def local_profile(profile: str) -> str:
    """A profile the embedded AWS wrote (`handoff-local-<env>`); any other is refused with --local, so a real
    account's credentials never sign a request to the embedded AWS."""
    if not profile.startswith("handoff-local-"):
        raise UsageError(
            f"with --local, a profile is one `handoff local up --account-per-env` wrote (handoff-local-<env>), "
            f"not {profile!r}"
        )
    return profile


def use_account(profile: str | None, region: str | None) -> None:
    """--profile and --region win over AWS_PROFILE and the region's variables, as in the AWS CLI; of those,
    AWS_REGION wins over AWS_DEFAULT_REGION, as in the AWS CLI v2 and the AWS SDKs (the SDKs and Tools
    reference guide, "AWS Region"). botocore reads only AWS_DEFAULT_REGION, so the region chosen is written
    to both: every client this process creates, and anything it starts, uses that one."""
    if profile:
        os.environ["AWS_PROFILE"] = profile
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            os.environ.pop(key, None)  # boto3 prefers keys in the environment over a named profile
    region = region or os.environ.get("AWS_REGION")
    if region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    reset_clients()


def stack_outputs(env: str) -> dict[str, str]:
    """An environment's resources, from the outputs of its stack handoff-<env>."""
    stack = f"{STACK_PREFIX}{env}"
    from botocore.exceptions import ClientError

    with aws_call(f"reading stack {stack}"):
        try:
            stacks = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        except ClientError as exc:
            # DescribeStacks answers a stack that does not exist with ValidationError (botocore's own
            # StackExists waiter reads it so); any other error is aws_call's to name.
            if error_code(exc) == "ValidationError":
                region = client("cloudformation").meta.region_name
                raise NotFound(
                    f"environment {env!r} has no stack {stack} in this account and region ({region}); "
                    f"{_environments_here()}"
                ) from exc
            raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = sorted(ENVIRONMENT_OUTPUTS - set(outputs))
    if missing:
        raise NotFound(f"stack {stack} is not a handoff environment (it has no output {', '.join(missing)})")
    return outputs


def _environments_here() -> str:
    """The handoff environments that do exist here, in words (for the error that names one that does not)."""
    try:
        names = environment_names(None)
    except NotFound:
        return "there is no handoff environment here (--region, --profile, or `handoff local up` and --local?)"
    except (AwsAccessError, TransientAwsError):
        return "the environments here could not be listed (cloudformation:DescribeStacks)"
    return f"environments here: {', '.join(names)}"


def environment_names(env: str | None) -> list[str]:
    """[env], or every handoff environment in this account and region: stacks named handoff-<env> with
    handoff's outputs (another team's handoff-* stack is left alone)."""
    if env:
        return [env]
    names: list[str] = []
    with aws_call("listing handoff stacks"):
        for page in client("cloudformation").get_paginator("describe_stacks").paginate():
            for stack in page["Stacks"]:
                outputs = {o["OutputKey"] for o in stack.get("Outputs", [])}
                if stack["StackName"].startswith(STACK_PREFIX) and outputs >= ENVIRONMENT_OUTPUTS:
                    names.append(stack["StackName"].removeprefix(STACK_PREFIX))
    if not names:
        raise NotFound("no handoff environment (stack handoff-<env> with handoff's outputs) in this account and region")
    return sorted(names)


class Env:
    """One environment's resources, found from its stack's outputs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.outputs = stack_outputs(name)

    @property
    def bucket(self) -> str:
        return self.outputs["ArtifactBucketName"]

    def records(self) -> Any:
        from ecs_handoff.aws.records import DeploymentRecords

        return DeploymentRecords(self.outputs["DeploymentsTableName"])

    def approvals(self) -> Any:
        from ecs_handoff.aws.approvals import ApprovalStore

        return ApprovalStore(self.outputs["ApprovalsTableName"])

    def service_ids(self) -> list[str]:
        from ecs_handoff.aws.registry import list_service_ids

        return list_service_ids(self.outputs["RegistryPrefix"])

    def service(self, service_id: str) -> ServiceConfig:
        from ecs_handoff.aws.registry import load_service

        try:
            return load_service(self.outputs["RegistryPrefix"], service_id)
        except ArtifactRejected as exc:
            if isinstance(exc.__cause__, NotFound):  # no such parameter: the service is not registered
                message = str(exc).replace("Terraform must add it before CI can deploy it", "").rstrip(". ")
                raise NotFound(message) from exc
            raise ConfigError(self._malformed(service_id, exc.__cause__ or exc)) from exc

    def _malformed(self, service_id: str, cause: BaseException) -> str:
        """A registry entry that is there but broken: which, what is wrong with it, and who fixes it."""
        from ecs_handoff.aws.registry import parameter_name
        from pydantic import ValidationError

        what = " ".join(str(cause).split())
        if isinstance(cause, ValidationError):
            first = cause.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            said = str(first["msg"]).removeprefix("Value error, ")
            what = f"{field}: {said}" if field else said
        return (
            f"the registry entry {parameter_name(self.outputs['RegistryPrefix'], service_id)} is malformed: {what} "
            f"(Terraform writes it; `handoff doctor --env {self.name}` checks every entry)"
        )

    def default_registry(self) -> str:
        """This account's ECR in this region: where images may come from when the registry entry says nothing."""
        if "DefaultRegistry" in self.outputs:
            return self.outputs["DefaultRegistry"]
        with aws_call("finding this account (sts:GetCallerIdentity)"):
            account = str(client("sts").get_caller_identity()["Account"])
        return f"{account}.dkr.ecr.{client('sts').meta.region_name}.amazonaws.com"

    def key(self, service_id: str) -> str:
        return f"{service_id}/imagedefinitions.json.zip"

    def operator_api(self, path: str, payload: dict[str, Any]) -> OperatorAnswer:
        """POSTs to the environment's operator API, signed with SigV4 (service execute-api) by your AWS
        credentials; API Gateway authenticates you and checks your execute-api:Invoke on the route, and the
        function decides as the identity AWS names (never anything this process claims)."""
        base = self.outputs.get("OperatorApiUrl")
        if not base:
            raise NotFound(
                f"stack {STACK_PREFIX}{self.name} has no OperatorApiUrl output: deploy this version of handoff "
                "(approve, reject and deploy-now go through its operator API)"
            )
        return call_signed(f"{base.rstrip('/')}{path}", payload)


class OperatorAnswer:
    """The operator API's answer: its HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body

    @property
    def refused_by_api_gateway(self) -> bool:
        """API Gateway refused before handoff's function ran (unsigned, bad signature, no execute-api:Invoke):
        its answers carry only a message, the function's carry a title."""
        return self.status == 403 and "title" not in self.body

    @property
    def text(self) -> str:
        said = self.body.get("message") or self.body.get("Message") or ""
        return f"{self.body['title']}: {said}" if self.body.get("title") else str(said)


def call_signed(url: str, payload: dict[str, Any]) -> OperatorAnswer:
    """One SigV4-signed POST through botocore (its signer, its HTTP session and proxy settings)."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import BotoCoreError
    from botocore.httpsession import URLLib3Session

    session = boto3.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise AwsAccessError("no AWS credentials to sign the operator API request with (aws configure, --profile)")
    # The API's own region (its host is <id>.execute-api.<region>.amazonaws.com), else this session's.
    host = re.match(r"^https://[^./]+\.execute-api\.([a-z0-9-]+)\.", url)
    region = host.group(1) if host else session.region_name or os.environ.get("AWS_REGION", "")
    request = AWSRequest(
        method="POST", url=url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    try:
        response = URLLib3Session(timeout=60).send(request.prepare())
    except BotoCoreError as exc:
        raise TransientAwsError(f"calling the operator API {url}: {exc}") from exc
    try:
        body = json.loads(response.content or b"{}")
    except ValueError:
        body = {"message": response.content.decode("utf-8", "replace")[:300]}
    return OperatorAnswer(response.status_code, body if isinstance(body, dict) else {"message": str(body)})
