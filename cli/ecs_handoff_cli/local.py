"""`handoff local`, from the CLI's side: where a running `handoff local up` leaves its local.json (read by
--local), and `handoff local up` itself, which the embedded AWS implements.

The dependency goes one way: the CLI may use the embedded AWS, the embedded AWS never imports the CLI (it
is the AWS; the CLI is one of its clients). The embedded AWS is the `local` extra (moto and friends), which
an operator's install leaves out, so it is imported here, when `handoff local up` runs, and nowhere else
in the CLI; without it the command says what to install."""

from __future__ import annotations

import argparse
from pathlib import Path

LOCAL_STATE = Path(".handoff") / "local.json"
LOCAL_VARIABLE = "HANDOFF_LOCAL"


def cmd_local_up(args: argparse.Namespace) -> int:
    from ecs_handoff_cli.exits import UsageError

    try:
        from ecs_handoff_embedded.local import serve
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"`handoff local up` runs the embedded AWS, which is not installed (no module {exc.name!r}): "
            "pip install 'ecs-handoff[local]'"
        ) from exc
    return serve(port=args.port, rollout_seconds=args.rollout_seconds, account_per_env=args.account_per_env)
