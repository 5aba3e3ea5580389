"""Which IAM principal a registry pattern names (approver_principals, override_principals): the one place
that says how a pattern matches, for the approval gate and for `handoff deploy-now` alike."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable


def matching(principal_arn: str, patterns: Iterable[str]) -> str | None:
    """The first pattern that names this principal, case-sensitively (`*` any run, `?` one character), or
    None. An assumed-role session ARN matches patterns written for the role's session ARNs
    (arn:aws:sts::<account>:assumed-role/<role>/<session>)."""
    return next((p for p in patterns if fnmatch.fnmatchcase(principal_arn, p)), None)
