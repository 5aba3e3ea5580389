"""`handoff local up` serves the embedded AWS to other processes, as a developer would use it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from ecs_handoff_embedded.scenario import artifact, image
from ecs_handoff_embedded.seed import push_image

HANDOFF = [sys.executable, "-m", "ecs_handoff_cli"]


@pytest.mark.slow
def test_local_up_serves_uploads_from_another_process(tmp_path: Path) -> None:
    # GIVEN `handoff local up` running in its own process
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HANDOFF_", "MOTO_"))}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [*HANDOFF, "local", "up", "--rollout-seconds", "0.3"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        local_json = tmp_path / ".handoff" / "local.json"
        deadline = time.monotonic() + 60
        while not local_json.exists():
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "local.json never appeared"
            time.sleep(0.1)
        local = json.loads(local_json.read_text())
        assert {"aws_endpoint", "region", "account_id", "approval_base_url", "outbox_dir", "buckets"} <= set(local)
        assert local["aws_endpoint"].startswith("http://127.0.0.1:")

        # WHEN this process uploads with plain boto3, as CI would
        def client(service: str) -> Any:
            return boto3.client(  # type: ignore[call-overload]  # the stubs type each service name separately
                service,
                endpoint_url=local["aws_endpoint"],
                region_name=local["region"],
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )

        s3, ecr = client("s3"), client("ecr")
        push_image(ecr, image("api", "dev-7e7e7e7"))  # CI pushes the image, then uploads the metadata
        s3.put_object(
            Bucket=local["buckets"]["dev"],
            Key="api/imagedefinitions.json.zip",
            Body=artifact({"app-container": image("api", "dev-7e7e7e7")}),
        )
        # THEN the pipeline runs there, and the CLI in a third process sees the outcome
        outcome = None
        while time.monotonic() < deadline and outcome != "SUCCEEDED":
            history = subprocess.run(
                [*HANDOFF, "--local", "history", "--env", "dev", "--service", "api", "--json"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            items = json.loads(history.stdout)
            outcome = items[0]["outcome"] if items else None
            time.sleep(0.3)
        assert outcome == "SUCCEEDED"

        # AND --local works after the command, from any folder below, or anywhere with HANDOFF_LOCAL
        def handoff(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*HANDOFF, *args], cwd=cwd, env={**env, **extra}, capture_output=True, text=True, check=False
            )

        below = tmp_path / "services" / "api"
        below.mkdir(parents=True)
        found = handoff("history", "--env", "dev", "--local", "--json", cwd=below)
        assert found.returncode == 0 and json.loads(found.stdout)[0]["outcome"] == "SUCCEEDED"
        elsewhere = tmp_path.parent
        lost = handoff("history", "--env", "dev", "--local", cwd=elsewhere)
        assert lost.returncode == 3 and "HANDOFF_LOCAL" in lost.stderr
        named = handoff("status", "--local", "--json", cwd=elsewhere, HANDOFF_LOCAL=str(local_json))
        assert named.returncode == 0 and set(json.loads(named.stdout)) == {"dev", "prod"}
        # AND the sample `local up` prints deploys as printed (the upload follows it to its end)
        sample = tmp_path / ".handoff" / "imagedefinitions.json"
        assert (
            f"handoff upload {sample.resolve()} --env dev --service api --local"
            in (tmp_path / "server.log").read_text()
        )
        uploaded = handoff("upload", str(sample), "--env", "dev", "--service", "api", "--local", cwd=below)
        assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
        assert "SUCCEEDED: the ECS rollout of this deployment COMPLETED" in uploaded.stdout
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    assert not (tmp_path / ".handoff" / "local.json").exists()
