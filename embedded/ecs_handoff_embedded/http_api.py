"""API Gateway HTTP API routes, served on 127.0.0.1 from the routes provision.py created in moto's
API Gateway v2 (from the template's HttpApi events, as API Gateway imports SAM's OpenAPI body).

moto serves no HTTP API; this turns each request into the payload format 2.0 event the function would get
in AWS and runs it through the Lambda runner. A route with AWS_IAM authorization is authorized as API
Gateway does (docs: "Control access to HTTP APIs with IAM authorization"): the request must be signed with
SigV4 for service execute-api by credentials the embedded AWS issued (an IAM user's access key, an
assumed-role session, or the embedded AWS's own default key), the signature must match, and the caller's
identity policies must allow execute-api:Invoke on
arn:aws:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path>, evaluated by the same evaluator
that authorizes the functions' calls (iam.py). Otherwise 403, and the function never runs; when allowed,
requestContext.authorizer.iam names the caller as AWS does."""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ecs_handoff_embedded.iam import Authorizer, Check, decide
from ecs_handoff_embedded.runner import FunctionRunner

MAX_BODY = 1024 * 1024
# The credentials every caller that is not a function uses on the embedded AWS (the CLI, tests): moto's
# default identity, which the embedded AWS leaves unrestricted, as an account's administrator would be.
DEFAULT_ACCESS_KEY = "testing"
DEFAULT_SECRET_KEY = "testing"  # noqa: S105 - moto's fixed fake credentials
DEFAULT_USER_ID = "AKIAIOSFODNN7EXAMPLE"  # what moto's GetCallerIdentity says for them
MAX_CLOCK_SKEW_SECONDS = 15 * 60  # SigV4: a request signed more than 15 minutes away is refused
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class Refused(Exception):
    """API Gateway refuses the request before the function runs: 403 with AWS's message."""

    def __init__(self, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.body = json.dumps({key: message}).encode()


@dataclass(frozen=True)
class Caller:
    """Whom a SigV4 signature identifies; documents None: unrestricted (the embedded AWS's own key)."""

    arn: str
    user_id: str
    account_id: str
    access_key: str
    secret_key: str
    session_token: str | None
    documents: list[dict[str, Any]] | None


def _user_documents(backend: Any, user: Any) -> list[dict[str, Any]]:
    """An IAM user's identity policies: inline and attached, its groups' inline and attached."""
    from ecs_handoff_embedded.iam import _document

    def attached(policies: Any) -> list[dict[str, Any]]:
        return [_document(next(v for v in p.versions if v.is_default).document) for p in policies.values()]

    documents = [_document(d) for d in user.policies.values()] + attached(user.managed_policies)
    for group in backend.get_groups_for_user(user.name):
        documents += [_document(d) for d in group.policies.values()] + attached(group.managed_policies)
    return documents


def identify(account_id: str, authorizer: Authorizer, access_key: str, session_token: str | None) -> Caller:
    """The caller behind an access key the embedded AWS issued, as STS and IAM know it; Refused otherwise."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    if access_key == DEFAULT_ACCESS_KEY:
        arn = f"arn:aws:sts::{account_id}:user/moto"  # as moto's GetCallerIdentity names it
        return Caller(arn, DEFAULT_USER_ID, account_id, access_key, DEFAULT_SECRET_KEY, session_token, None)
    iam = iam_backends[account_id]["global"]
    for user in list(iam.users.values()):
        for key in user.access_keys:
            if key.access_key_id == access_key and key.status == "Active" and not session_token:
                documents = _user_documents(iam, user)
                return Caller(user.arn, user.id, account_id, access_key, key.secret_access_key, None, documents)
    session = sts_backends[account_id]["global"].get_assumed_role_from_access_key(access_key)
    if session is not None and session_token == session.session_token:
        if session.expiration.timestamp() < time.time():
            raise Refused("The security token included in the request is expired")
        role_name = session.role_arn.rsplit("/", 1)[-1]
        role = iam.get_role(role_name)
        arn = f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session.session_name}"
        documents = authorizer.documents_for_role(role_name, account_id)
        return Caller(
            arn, f"{role.id}:{session.session_name}", account_id, access_key, session.secret_access_key,
            session_token, documents,
        )  # fmt: skip
    raise Refused("The security token included in the request is invalid.")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # /approvals/{approval_id}
    function_name: str
    authorization: str = "NONE"  # the route's AuthorizationType: NONE or AWS_IAM

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


class HttpApi:
    def __init__(
        self,
        runner: FunctionRunner,
        account_id: str,
        region: str,
        port: int = 0,
        api_id: str = "embedded",
        authorizer: Authorizer | None = None,
    ) -> None:
        self.runner, self.account_id, self.region = runner, account_id, region
        self.api_id, self.stage = api_id, "$default"
        self.authorizer = authorizer or Authorizer(account_id)
        self.routes: list[Route] = []
        self.denials: list[str] = []  # every request API Gateway refused, with AWS's message
        api = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "handoff-embedded-httpapi"

            def do_GET(self) -> None:
                api._handle(self)

            def do_POST(self) -> None:
                api._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the function logs what matters

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="embedded-httpapi")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> HttpApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        for route in self.routes:
            match = route.pattern.match(parts.path)
            if route.method == request.command and match:
                self._invoke(request, route, match.groupdict(), parts.path, parts.query)
                return
        self._send(request, 404, {"content-type": "application/json"}, b'{"message":"Not Found"}')

    def _invoke(
        self, request: BaseHTTPRequestHandler, route: Route, params: dict[str, str], path: str, query: str
    ) -> None:
        from moto.awslambda.models import lambda_backends

        length = min(int(request.headers.get("content-length") or 0), MAX_BODY)
        raw = request.rfile.read(length) if length else b""
        authorizer: dict[str, Any] | None = None
        if route.authorization == "AWS_IAM":
            try:
                authorizer = {"iam": self._authorize(request, path, query, raw)}
            except Refused as refused:
                self.denials.append(str(refused))
                self._send(request, 403, {"content-type": "application/json"}, refused.body)
                return
        try:
            body, encoded = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(raw).decode(), True
        query_params: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": f"{route.method} {route.path}",
            "rawPath": path,
            "rawQueryString": query,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "requestContext": {
                "accountId": self.account_id,
                "apiId": self.api_id,
                "domainName": request.headers.get("host", "127.0.0.1"),
                "http": {
                    "method": route.method,
                    "path": path,
                    "protocol": request.request_version,
                    "sourceIp": request.client_address[0],
                    "userAgent": request.headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": f"{route.method} {route.path}",
                "stage": self.stage,
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "pathParameters": params,
            "isBase64Encoded": encoded,
        }
        if authorizer is not None:
            event["requestContext"]["authorizer"] = authorizer  # type: ignore[index]
        if query_params:
            event["queryStringParameters"] = query_params
        if raw:
            event["body"] = body
        fn = lambda_backends[self.account_id][self.region].get_function(route.function_name)
        payload, errored, _ = self.runner.invoke(fn, event)
        if errored:
            self._send(request, 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
            return
        result = json.loads(payload)
        data = result.get("body") or ""
        content = base64.b64decode(data) if result.get("isBase64Encoded") else str(data).encode()
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        self._send(request, int(result.get("statusCode", 200)), headers, content, result.get("cookies") or [])

    def execute_api_arn(self, method: str, path: str) -> str:
        """The resource API Gateway authorizes execute-api:Invoke on: this API, stage, verb and the path asked."""
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/{method}{path}"

    def _authorize(self, request: BaseHTTPRequestHandler, path: str, query: str, body: bytes) -> dict[str, Any]:
        """API Gateway's AWS_IAM authorization of one request: the requestContext.authorizer.iam it fills in,
        or Refused with the message AWS answers."""
        header = request.headers.get("authorization", "")
        if not header:
            raise Refused("Forbidden")
        signed = _AUTHORIZATION.match(header.strip())
        if signed is None:
            raise Refused("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.")
        if signed["service"] != "execute-api" or signed["region"] != self.region:
            raise Refused(f"Credential should be scoped to a valid region and to the service 'execute-api', not "
                          f"'{signed['region']}/{signed['service']}'.")  # fmt: skip
        stamp = request.headers.get("x-amz-date", "")
        try:
            signed_at = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            message = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            raise Refused(message) from None
        if abs(time.time() - signed_at) > MAX_CLOCK_SKEW_SECONDS or not stamp.startswith(signed["date"]):
            raise Refused(f"Signature expired: {stamp} is now earlier or later than 15 minutes from now.")
        names = signed["signed"].split(";")
        if "host" not in names:
            raise Refused("'Host' must be a signed header.")
        content_hash = request.headers.get("x-amz-content-sha256")
        if content_hash is not None and content_hash != hashlib.sha256(body).hexdigest():
            raise Refused("The provided 'x-amz-content-sha256' header does not match what was computed.")
        caller = identify(self.account_id, self.authorizer, signed["key"], request.headers.get("x-amz-security-token"))
        if not hmac.compare_digest(self._signature(request, caller, names, path, query, body), signed["signature"]):
            raise Refused(
                "The request signature we calculated does not match the signature you provided. Check your AWS "
                "Secret Access Key and signing method. Consult the service documentation for details."
            )
        resource = self.execute_api_arn(request.command, path)
        if caller.documents is not None:
            verdict = decide(
                caller.documents, Check("execute-api:Invoke", resource, {"aws:RequestedRegion": self.region})
            )
            if verdict != "allowed":
                deny = " with an explicit deny" if verdict == "explicitDeny" else ""
                who = f"User: {caller.arn} is not authorized to perform: execute-api:Invoke"
                raise Refused(f"{who} on resource: {resource}{deny}", key="Message")
        return {
            "accessKey": caller.access_key,
            "accountId": caller.account_id,
            "callerId": caller.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller.arn,
            "userId": caller.user_id,
        }

    def _signature(
        self, request: BaseHTTPRequestHandler, caller: Caller, names: list[str], path: str, query: str, body: bytes
    ) -> str:
        """The SigV4 signature of this request with the caller's secret, computed by botocore's own signer
        over exactly the headers the client says it signed."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        headers = {name: request.headers.get(name, "") for name in names}
        url = f"http://{headers['host']}{path}" + (f"?{query}" if query else "")
        aws_request = AWSRequest(method=request.command, url=url, data=body, headers=headers)
        aws_request.context["timestamp"] = headers.get("x-amz-date") or request.headers.get("x-amz-date", "")
        signer = SigV4Auth(
            Credentials(caller.access_key, caller.secret_key, caller.session_token), "execute-api", self.region
        )
        canonical = signer.canonical_request(aws_request)
        return str(signer.signature(signer.string_to_sign(aws_request, canonical), aws_request))

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        body: bytes,
        cookies: list[str] | None = None,
    ) -> None:
        request.send_response(status)
        for key, value in headers.items():
            if key != "content-length":
                request.send_header(key, value)
        for cookie in cookies or []:
            request.send_header("set-cookie", cookie)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
