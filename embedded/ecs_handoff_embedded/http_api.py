"""API Gateway HTTP API routes, served on 127.0.0.1 from the template's HttpApi events.

moto does not provision API Gateway v2 from CloudFormation; this turns each request into the
payload format 2.0 event the function would get in AWS and runs it through the Lambda runner."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ecs_handoff_embedded.runner import FunctionRunner

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # /approvals/{approval_id}
    function_name: str

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


class HttpApi:
    def __init__(self, runner: FunctionRunner, account_id: str, region: str, port: int = 0) -> None:
        self.runner, self.account_id, self.region = runner, account_id, region
        self.routes: list[Route] = []
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
                "apiId": "embedded",
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
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "pathParameters": params,
            "isBase64Encoded": encoded,
        }
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
