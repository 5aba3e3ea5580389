"""The `handoff` command for operators; works against AWS or the embedded AWS alike.

parser declares the commands; each command group has its module: follow (history, status, watch), release
(upload, rerun, rollback, diff, with release_logic: what they decide without AWS), decide (approve, reject,
deploy-now), failed, doctor, local (`handoff local up`); connect finds the AWS and the environment; show
shapes what is printed; exits says how a command ends."""

from __future__ import annotations

import sys

from ecs_handoff_cli.exits import exit_code
from ecs_handoff_cli.parser import build_parser, command_of


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    if not debug:
        from ecs_handoff.observability import logger

        logger.setLevel("WARNING")  # the functions' structured logs are for CloudWatch, not this terminal
    try:
        if getattr(args, "local", False):
            from ecs_handoff_cli.connect import find_local_state, use_local

            use_local(find_local_state())
        elif getattr(args, "profile", None) or getattr(args, "region", None):
            from ecs_handoff_cli.connect import use_account

            use_account(getattr(args, "profile", None), getattr(args, "region", None))
        return command_of(args)(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if debug:
            raise
        code = exit_code(exc)
        print(f"handoff: error: {_one_line(exc)}", file=sys.stderr)
        return code


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
