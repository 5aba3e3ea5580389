"""Which IAM principal a registry pattern names (approver_principals, override_principals): the one place
that says how a pattern matches, for the approval gate and for `handoff deploy-now` alike."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable


def matching(principal_arn: str, patterns: Iterable[str]) -> str | None:
    """The first pattern that names this principal, case-sensitively (`*` any run, `?` one character), or
    None. An assumed-role session ARN matches patterns written for the role's session ARNs
    (arn:aws:sts::<account>:assumed-role/<role>/<session>)."""
    return next((p for p in patterns if fnmatch.fnmatchcase(principal_arn, p)), None)


_SESSION = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/[^/]+$")
_IDENTITY = re.compile(
    r"^arn:(?P<partition>[\w-]+):(?:iam|sts)::(?P<account>\d{12}):(?P<kind>user|role)/(?:.*/)?(?P<name>[^/]+)$"
)


def identity(principal_arn: str) -> str:
    """The IAM identity behind an ARN, for comparing who did two things: an assumed-role session ARN
    (arn:aws:sts::<account>:assumed-role/<role>/<session>) becomes its role's ARN, a user or role ARN
    loses its path (a session ARN carries none), so `arn:aws:iam::<account>:role/<role>` either way.
    Two sessions of one role are one identity here: the stricter reading for a separation-of-duties
    rule. Anything else (a service, an account id) is returned as it is."""
    session = _SESSION.match(principal_arn)
    if session:
        return f"arn:{session['partition']}:iam::{session['account']}:role/{session['role']}"
    plain = _IDENTITY.match(principal_arn)
    if plain:
        return f"arn:{plain['partition']}:iam::{plain['account']}:{plain['kind']}/{plain['name']}"
    return principal_arn
