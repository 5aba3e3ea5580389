"""Starts the embedded AWS: a moto server on 127.0.0.1, the gaps filled, both stacks provisioned."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_handoff_embedded import environ, gaps, iam, provision, seed
from ecs_handoff_embedded.gaps.ecs import HELD, HeldRollouts
from ecs_handoff_embedded.http_api import HttpApi, Route
from ecs_handoff_embedded.runner import FunctionRunner

ENVIRONMENTS = ("dev", "prod")


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "template.yaml").exists():
            return parent
    raise RuntimeError("cannot find template.yaml above the embedded package; run from a handoff checkout")


@dataclass
class EmbeddedAws:
    """One process-wide embedded AWS. `start()` then use `endpoint`; `stop()` when done."""

    port: int = 0
    # How long each ECS rollout takes; HELD: until `release_rollouts` ends it (what a test that acts while ECS is
    # still rolling out uses, so its outcome does not depend on how busy the machine is).
    rollout_seconds: float = 1.0
    state_dir: Path = field(default_factory=lambda: Path(".handoff"))
    log_level: str = "ERROR"
    envs: tuple[str, ...] = ENVIRONMENTS
    rollout_timeout_seconds: int = 60
    poll_interval_seconds: int = 1
    echo: Callable[[str], None] | None = None
    root: Path = field(default_factory=repo_root)
    enforce_iam: bool = True
    rollout_check_seconds: int = 2
    # ECS's deployment events are delivered through EventBridge unless told otherwise (a lost event).
    drop_ecs_events: bool = False
    # ECS reads are eventually consistent: DescribeServices shows a new deployment this long after
    # UpdateService created it (0: at once). The lagging e2e tests set it (tests/e2e/test_lagging_aws.py).
    ecs_listing_lag_seconds: float = 0.0
    # The account's Lambda concurrency quota (1000 by default in AWS; new accounts often have 10 or 50).
    account_concurrency_quota: int = 1000
    # Step Functions' status change events are delivered through EventBridge unless told otherwise (AWS
    # delivers them best effort: a lost event, which the sweeper makes up for; tests/e2e/test_sweeper.py).
    drop_execution_status_events: bool = False
    # Reads from a DynamoDB global secondary index are eventually consistent: Query and Scan on one see each table
    # as it was this long ago (0: as it is). The lagging e2e tests set it (tests/e2e/test_lagging_aws.py).
    ddb_index_lag_seconds: float = 0.0
    # EventBridge keeps no order: each delivery to a rule's target waits a random time up to this bound first,
    # so events can arrive late and out of order (0: at once, in order).
    event_delivery_max_delay_seconds: float = 0.0
    # A subscription's FilterPolicy change filters messages only this long after it is made (AWS: up to 15
    # minutes). handoff sets no filter policy; tests/integration/test_sns_filter_lag.py shows the lag.
    sns_filter_policy_lag_seconds: float = 0.0
    # Blue/green, linear and canary deployments run this many embedded seconds per AWS second (1/180: a linear
    # step's default 6-minute bake lasts 2 s, so a test or a person can act between steps; gaps/ecs_deployments.py).
    ecs_deployment_time_scale: float = 1 / 180
    # Each environment in its own account (`handoff local up --account-per-env`): the first keeps the default
    # account, the others get their own (ECR, KMS keys, buckets, stacks); off: every environment in one account.
    account_per_env: bool = False

    def __post_init__(self) -> None:
        self.deliveries = gaps.Deliveries(lambda: self.event_delivery_max_delay_seconds)
        self.held_rollouts = HeldRollouts()
        self.outbox = gaps.Outbox(self.state_dir / "outbox", self.echo)
        self.stacks: dict[str, provision.Stack] = {}
        self._server: Any = None
        self.endpoint = ""
        self.runner: FunctionRunner | None = None
        self.http_apis: dict[str, HttpApi] = {}  # each stack's approval page API (public links)
        self.operator_apis: dict[str, HttpApi] = {}  # each stack's operator API (every route AWS_IAM)
        # Each function's calls are authorized against its own role (iam.py); off only for a test that says so.
        self.authorizer = iam.Authorizer(seed.ACCOUNT_ID, enforcing=self.enforce_iam)
        self.ecs_events: list[dict[str, Any]] = []  # every ECS deployment event, delivered or dropped
        self.execution_status_events: list[dict[str, Any]] = []  # every status change event, delivered or dropped
        # Change calendars GetCalendarState answers from: {name: (OPEN or CLOSED, next transition or None)}.
        self.calendars: dict[str, tuple[str, str | None]] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self.accounts = {
            env: seed.ACCOUNT_ID if index == 0 or not self.account_per_env else f"{210987654321 + index - 1}"
            for index, env in enumerate(self.envs)
        }
        self.credentials: dict[str, tuple[str, str]] = {}  # account -> an IAM user's access key there (not default)

    def hold_rollouts(self) -> None:
        """From now on every rollout stays IN_PROGRESS until `release_rollouts` ends it."""
        self.rollout_seconds = HELD

    def release_rollouts(self, service: str | None = None, timeout: float = 30.0) -> int:
        """Ends the held rollouts of a service ("env/name"; every service if None) as ECS would, waiting up to
        `timeout` seconds for one to start; returns how many ended (0 if none came)."""
        return self.held_rollouts.release(service, timeout)

    def emit_ecs_event(self, event: dict[str, Any]) -> None:
        """ECS sends a deployment event to EventBridge (again, for a test of a duplicate)."""
        self.ecs_events.append(event)
        if not self.drop_ecs_events and self.runner is not None:
            gaps.put_event(event["account"], event["region"], event, self.runner, self.deliveries)

    def fire_schedule(self, rule_name: str) -> None:
        """One tick of a scheduled rule (handoff-<env>-sweeper): moto fires none by itself, so the sweeper runs
        here only when asked; `wait_idle()` waits for it to finish."""
        assert self.runner is not None
        env = rule_name.removeprefix("handoff-").rsplit("-", 1)[0]
        account = self.accounts.get(env, seed.ACCOUNT_ID)
        gaps.fire_schedule(account, seed.REGION, rule_name, self.runner, self.deliveries)

    def start(self) -> EmbeddedAws:
        """Starts on an empty AWS (moto's state is per process: whatever an earlier instance or a mock left is
        reset); if starting fails half-way, everything already patched or served is undone before it raises."""
        from moto.core.base_backend import BackendDict

        BackendDict.reset()
        self.credentials.clear()  # the IAM users they belonged to went with the reset
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> EmbeddedAws:
        from moto.core.config import default_user_config

        started = time.monotonic()
        _quiet()
        environ.install()
        self._saved_sfn_config = dict(default_user_config.get("stepfunctions", {}))
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self._server = iam.make_server(self.authorizer, "127.0.0.1", self.port)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        process_env = {
            "MOTO_PORT": str(self.port),  # the Step Functions interpreter calls Lambda back here
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": seed.REGION,
            "AWS_REGION": seed.REGION,
        }
        self._saved_env = {k: os.environ.get(k) for k in [*process_env, "AWS_PROFILE"]}
        os.environ.update(process_env)
        os.environ.pop("AWS_PROFILE", None)
        from ecs_handoff.aws.clients import reset_clients

        reset_clients()
        self.runner = FunctionRunner(dict(os.environ), log_level=self.log_level, authorizer=self.authorizer)
        self._undo = self._fill_gaps()
        for env in self.envs:
            self._provision(env)
        self.write_local_json()
        self.startup_seconds = time.monotonic() - started
        return self

    def _fill_gaps(self) -> list[Callable[[], None]]:
        """What moto does not do, installed (docs/embedded-aws.md); the undo of each."""
        assert self.runner is not None
        return [
            gaps.install_lambda_runner(self.runner),
            gaps.install_concurrency_quota(lambda: self.account_concurrency_quota),
            gaps.install_s3_events(self.runner, self.deliveries),
            gaps.install_ecs_rollouts(lambda: self.rollout_seconds, self.emit_ecs_event, self.held_rollouts),
            gaps.install_ecs_listing_lag(lambda: self.ecs_listing_lag_seconds),
            gaps.install_ecs_deployments(
                lambda: self.ecs_deployment_time_scale,
                self.emit_ecs_event,
                gaps.lambda_hook_invoker(self.runner),
                role_check=gaps.hook_role_problem if self.enforce_iam else None,
            ),
            gaps.install_index_lag(lambda: self.ddb_index_lag_seconds),
            gaps.install_filter_policy_lag(lambda: self.sns_filter_policy_lag_seconds),
            gaps.install_email_outbox(self.outbox),
            gaps.install_send_task_failure_cause(),
            gaps.install_ecs_task_definitions(seed.ACCOUNT_ID),
            gaps.install_execution_status_events(
                self.runner,
                self.deliveries,
                dropped=lambda: self.drop_execution_status_events,
                emitted=self.execution_status_events,
            ),
            gaps.install_stop_execution(),
            gaps.install_bucket_notification_read_back(),
            gaps.install_deployment_configuration_read_back(),
            gaps.install_strict_choice(),
            gaps.install_change_calendars(self.calendars),
            gaps.install_template_key_specs(),
        ]

    def _provision(self, env: str) -> None:
        """Terraform's side of `env` (seed.py), then its stack, its functions, the inbox and the HTTP API."""
        assert self.runner is not None
        account = self.accounts[env]
        session = self.session(env)
        seed.seed(
            session,
            env,
            self.rollout_timeout_seconds,
            self.poll_interval_seconds,
            self.rollout_check_seconds,
            account=account,
            operator_arn=self.operator_arn(env),
        )
        stack = provision.provision(
            session,
            self.root,
            f"handoff-{env}",
            {
                "Env": env,
                "RequireApproval": "true" if env == "prod" else "false",
                "LogLevel": "INFO",
            },
            account,
            seed.REGION,
        )
        for name, code_dir in stack.functions.items():
            self.runner.register(name, code_dir)
        self.stacks[env] = stack
        self._subscribe_inbox(session, env, stack)
        self._serve_http_api(session, stack, account)

    def _subscribe_inbox(self, session: Any, env: str, stack: provision.Stack) -> None:
        """The platform team's inbox gets every outcome (the NotificationEmail parameter in AWS)."""
        session.client("sns").subscribe(
            TopicArn=stack.outputs["NotificationsTopicArn"], Protocol="email", Endpoint=f"platform-{env}@example.com"
        )

    def _serve_http_api(self, session: Any, stack: provision.Stack, account: str = seed.ACCOUNT_ID) -> None:
        """Serve each of the stack's HTTP APIs here (one server each, as each has its own host in AWS), with
        the routes API Gateway has for it, and point whatever names an API's URL (approval links, the
        OperatorApiUrl output the CLI reads) at its server."""
        assert self.runner is not None
        served: dict[str, str] = {}  # the URL each API has in AWS -> where it is served here
        for logical_id, api_id in stack.http_apis.items():
            api = HttpApi(self.runner, account, seed.REGION, api_id=api_id, authorizer=self.authorizer)
            api.routes += [Route(*route) for route in provision.routes_of(session, api_id)]
            api.start()
            served[f"https://{api_id}.execute-api.{seed.REGION}.amazonaws.com"] = api.url
            if logical_id == "OperatorApi":
                self.operator_apis[stack.outputs["Env"]] = api
            else:
                self.http_apis[stack.outputs["Env"]] = api
        lam = session.client("lambda")
        for name in stack.functions:
            config = lam.get_function_configuration(FunctionName=name)
            variables = config.get("Environment", {}).get("Variables", {})
            if variables.get("HANDOFF_APPROVAL_BASE_URL") in served:
                variables["HANDOFF_APPROVAL_BASE_URL"] = served[variables["HANDOFF_APPROVAL_BASE_URL"]]
                lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        for key, value in list(stack.outputs.items()):
            if value in served:
                stack.outputs[key] = served[value]
                provision.set_output(stack.name, key, served[value], account, seed.REGION)

    def session(self, env: str | None = None) -> Any:
        """A session with the tests' credentials: moto's fixed ones (the default account), or for an
        environment in an account of its own, an IAM user's key there (moto serves the account whose IAM holds
        the key)."""
        from ecs_handoff.aws.clients import new_session

        account = self.accounts.get(env or "", seed.ACCOUNT_ID)
        key, secret = self.credentials.get(account) or self._operator_key(account)
        return new_session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=seed.REGION)

    def _operator_key(self, account: str) -> tuple[str, str]:
        if account == seed.ACCOUNT_ID:
            return "testing", "testing"  # moto's fixed fake credentials
        from moto.iam.models import iam_backends

        iam = iam_backends[account]["global"]
        iam.create_user(seed.REGION, user_name="operator", path="/")
        key = iam.create_access_key(user_name="operator")
        self.credentials[account] = (key.access_key_id, key.secret_access_key)
        return self.credentials[account]

    def operator_arn(self, env: str) -> str:
        """Who the tests' and the CLI's calls are, in an environment's account (an approver principal in prod)."""
        account = self.accounts.get(env, seed.ACCOUNT_ID)
        return seed.OPERATOR_ARN if account == seed.ACCOUNT_ID else f"arn:aws:iam::{account}:user/operator"

    def env_client(self, env: str, service: str) -> Any:
        """A client of one environment's account (the default account's: `client`)."""
        if self.accounts.get(env, seed.ACCOUNT_ID) == seed.ACCOUNT_ID:
            return self.client(service)
        key = (f"{env}:{service}", self.endpoint)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self.session(env).client(service, endpoint_url=self.endpoint)
            return self._clients[key]

    def client(self, service: str) -> Any:
        """A client of the embedded AWS with the tests' credentials; one per service and endpoint (boto3's
        clients are thread safe, and tests and the scenario ask for one in every polling loop)."""
        key = (service, self.endpoint)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = self.session().client(service, endpoint_url=self.endpoint)
            return self._clients[key]

    def write_local_json(self) -> Path:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "local.json"
        path.write_text(
            json.dumps(
                {
                    "aws_endpoint": self.endpoint,
                    "region": seed.REGION,
                    "account_id": seed.ACCOUNT_ID,
                    "accounts": self.accounts,
                    # the profiles of the environments in accounts of their own (`--to-profile handoff-local-prod`)
                    "credentials_file": str(self._write_credentials().resolve()) if self.credentials else None,
                    "approval_base_url": self.http_apis["prod"].url if "prod" in self.http_apis else None,
                    "approval_base_urls": {env: api.url for env, api in self.http_apis.items()},
                    "operator_api_urls": {env: api.url for env, api in self.operator_apis.items()},
                    "outbox_dir": str(self.outbox.directory.resolve()),
                    "buckets": {env: seed.bucket_name(env, self.accounts[env]) for env in self.envs},
                    "stacks": {env: stack.name for env, stack in self.stacks.items()},
                    "pid": os.getpid(),
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        return path

    def _write_credentials(self) -> Path:
        """An AWS shared credentials file: a profile `handoff-local-<env>` per environment in an account of its
        own, with its IAM user's key (what a person holds for each account)."""
        path = self.state_dir / "credentials"
        lines = []
        for env, account in self.accounts.items():
            if account in self.credentials:
                key, secret = self.credentials[account]
                lines += [
                    f"[handoff-local-{env}]",
                    f"aws_access_key_id = {key}",
                    f"aws_secret_access_key = {secret}",
                    "",
                ]
        path.write_text("\n".join(lines), encoding="utf-8")
        path.chmod(0o600)
        return path

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self.deliveries.wait_idle(timeout)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        for api in [*self.http_apis.values(), *self.operator_apis.values()]:
            api.stop()
        self.http_apis, self.operator_apis = {}, {}
        for undo in reversed(getattr(self, "_undo", [])):
            undo()
        self._undo = []
        if hasattr(self, "_saved_sfn_config"):
            from moto.core.config import default_user_config

            default_user_config["stepfunctions"] = self._saved_sfn_config
        for key, value in getattr(self, "_saved_env", {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        from ecs_handoff.aws.clients import reset_clients

        reset_clients()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()  # the next embedded AWS (or mock) in this process starts from nothing
        local = self.state_dir / "local.json"
        if local.exists():
            local.unlink()


def _quiet() -> None:
    """moto logs every Fail state and unsupported resource; handoff's own records say what happened."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="There are unpublished metrics")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", message="Tried to parse AWS::SQS::QueuePolicy")
    warnings.filterwarnings("ignore", message="Tried to parse AWS::CloudWatch::Alarm")  # not created here (docs)
    # applied through Lambda's API instead (provision.py), where the asynchronous invocation reads it
    warnings.filterwarnings("ignore", message="Tried to parse AWS::Lambda::EventInvokeConfig")
