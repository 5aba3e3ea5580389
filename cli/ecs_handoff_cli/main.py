"""The `handoff` command for operators; works against AWS or the embedded AWS alike.

parser declares the commands; each command group has its module: follow (history, status, watch), release
(upload, rerun, rollback, diff, with release_logic: what they decide without AWS), decide (approve, reject,
deploy-now), failed, doctor, local (`handoff local up`); connect finds the AWS and the environment; show
shapes what is printed; exits says how a command ends."""

from __future__ import annotations

import os
import sys

from ecs_handoff_cli.exits import EXIT_INTERRUPTED, EXIT_PIPE_CLOSED, exit_code
from ecs_handoff_cli.parser import build_parser, command_of


def main(argv: list[str] | None = None) -> int:
    """Runs one command; its output reader going away (`handoff history | head`) ends it quietly."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe shows here, inside main, rather than at the interpreter's exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_PIPE_CLOSED


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    if not debug:
        from ecs_handoff.observability import logger

        logger.setLevel("WARNING")  # the functions' structured logs are for CloudWatch, not this terminal
    try:
        profile, region = getattr(args, "profile", None), getattr(args, "region", None)
        if getattr(args, "local", False):
            from ecs_handoff_cli.connect import find_local_state, use_local

            use_local(find_local_state())
            if profile:  # `handoff local up --account-per-env`: an environment in an account of its own
                from ecs_handoff_cli.connect import local_profile, use_account

                use_account(local_profile(profile), None)
        elif profile or region or os.environ.get("AWS_REGION"):
            from ecs_handoff_cli.connect import use_account

            use_account(profile, region)
        return command_of(args)(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except Exception as exc:
        if debug:
            raise
        code = exit_code(exc)
        print(f"handoff: error: {_one_line(exc)}", file=sys.stderr)
        return code


def _discard_stdout() -> None:
    """What Python's documentation recommends on EPIPE (signal module, "Note on SIGPIPE"): point stdout at
    devnull, so what is still buffered is dropped instead of failing again when the interpreter exits."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's buffer): nothing to redirect
        pass


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
