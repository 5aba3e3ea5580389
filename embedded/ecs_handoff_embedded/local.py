"""`handoff local up`: the embedded AWS in the foreground, for poking at with any AWS client."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path

# The `local` extra, imported when this module is (the server imports it only as it starts), so that
# `handoff local up` without the extra fails at once with the CLI's "pip install 'ecs-handoff[local]'".
import moto  # noqa: F401
import policy_sentry  # noqa: F401
import samtranslator  # noqa: F401

from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.seed import SAMPLE_IMAGES, bucket_name, push_image


def handoff_command() -> str:
    """This installation's `handoff`, as the commands printed below must say it to work when pasted: `handoff`
    when that is the one on PATH; else its path (`make local` runs .venv/bin/handoff, which a shell without the
    virtualenv activated does not find); else the module, run by this Python."""
    here = Path(sys.executable).parent / "handoff"
    if not here.exists():
        return f"{shlex.quote(sys.executable)} -m ecs_handoff_cli"
    on_path = shutil.which("handoff")
    if on_path is not None and Path(on_path).resolve() == here.resolve():
        return "handoff"
    return shlex.quote(str(here))


def serve(port: int = 0, rollout_seconds: float = 1.0, account_per_env: bool = False) -> int:
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # the banner shows at once, also through a pipe or a file
    aws = EmbeddedAws(
        port=port, rollout_seconds=rollout_seconds, log_level="INFO", echo=print, account_per_env=account_per_env
    )
    aws.start()
    stop = threading.Event()
    # Both stop it cleanly, even when started in the background (where SIGINT is otherwise ignored).
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(
        f"handoff embedded AWS on {aws.endpoint} (region ap-northeast-1, account 123456789012), "
        f"ready in {aws.startup_seconds:.1f} s"
    )
    # A sample CI would produce, its images pushed to the embedded ECR, so the first upload just works.
    for uri in SAMPLE_IMAGES.values():
        push_image(aws.client("ecr"), uri)
    sample = (aws.state_dir / "imagedefinitions.json").resolve()
    entries = [{"name": name, "imageUri": uri} for name, uri in SAMPLE_IMAGES.items()]
    sample.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    local_json = (aws.state_dir / "local.json").resolve()
    print(f"  state:  {local_json}    outbox: {aws.outbox.directory}")
    for env in aws.envs:
        account = aws.accounts[env]
        profile = f", profile handoff-local-{env} (--profile, --to-profile)" if account in aws.credentials else ""
        print(f"  {env}: account {account}, bucket {bucket_name(env, account)}, stack handoff-{env}{profile}")
    print("the CLI finds it from this folder and those below; from anywhere else:")
    print(f"  export HANDOFF_LOCAL={local_json}")
    handoff = handoff_command()
    print("deploy a sample, then look:")
    print(f"  {handoff} upload {shlex.quote(str(sample))} --env dev --service api --local")
    print(f"  {handoff} history --env dev --local")
    print("or upload as CI would, with any AWS client:")
    print(
        f"  export AWS_ENDPOINT_URL={aws.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        "AWS_DEFAULT_REGION=ap-northeast-1"
    )
    print(f"  aws s3 cp imagedefinitions.json.zip s3://{bucket_name('dev')}/api/imagedefinitions.json.zip")
    print(f"prod needs approval: the emails land in {aws.outbox.directory}; open the link in a browser")
    print("Ctrl-C stops it.")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        aws.stop()
        print("stopped")
    return 0
