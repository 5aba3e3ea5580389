"""`handoff local up`: the embedded AWS in the foreground, for poking at with any AWS client."""

from __future__ import annotations

import signal
import threading

from ecs_handoff_embedded.runtime import EmbeddedAws
from ecs_handoff_embedded.world import bucket_name


def serve(port: int = 0, rollout_seconds: float = 1.0) -> int:
    aws = EmbeddedAws(port=port, rollout_seconds=rollout_seconds, log_level="INFO", echo=print)
    aws.start()
    stop = threading.Event()
    # Both stop it cleanly, even when started in the background (where SIGINT is otherwise ignored).
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(
        f"handoff embedded AWS on {aws.endpoint} (region ap-northeast-1, account 123456789012), "
        f"ready in {aws.startup_seconds:.1f} s"
    )
    print(f"  state:  .handoff/local.json    outbox: {aws.outbox.directory}")
    for env in aws.envs:
        print(f"  {env}: bucket {bucket_name(env)}, stack handoff-{env}")
    print("upload an artifact as CI would:")
    print(
        f"  export AWS_ENDPOINT_URL={aws.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        "AWS_DEFAULT_REGION=ap-northeast-1"
    )
    print(f"  aws s3 cp imagedefinitions.json.zip s3://{bucket_name('dev')}/api/imagedefinitions.json.zip")
    print("  handoff --local upload imagedefinitions.json --env dev --service api")
    print("  handoff --local history --env dev")
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
