"""How a command ends: its exit codes, the CLI's own errors, and which error ends with which code.

Light on purpose (no boto3, no pydantic): `handoff --help` lists the codes without loading AWS."""

from __future__ import annotations

from ecs_handoff.errors import AwsAccessError, HandoffError, NotFound, TransientAwsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_AWS = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, as a shell reports `yes | head`: the reader went away, nothing failed
EXIT_CODES = (
    "exit codes: 0 ok (watch, upload: the deployment SUCCEEDED); 1 the deployment failed or was refused; "
    "2 usage, input or configuration error; 3 not found; 4 AWS access error"
)


class UsageError(HandoffError):
    """The command line or a file given to it is wrong (exit 2)."""


class ConfigError(UsageError):
    """What Terraform wrote for handoff (a registry entry) is wrong: not a missing thing, a broken one (exit 2)."""


class Refused(HandoffError):
    """What the command would deploy is refused, as the intake would refuse it (exit 1)."""


def exit_code(exc: Exception) -> int:
    """The exit code of a command that raised exc."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(exc, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, AwsAccessError | TransientAwsError | ClientError | BotoCoreError | NoCredentialsError):
        return EXIT_AWS
    return EXIT_FAILED
