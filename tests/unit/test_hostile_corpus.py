"""The hostile-input corpus's cases that the artifact reader alone refuses, against the reader: each refusal says
what to fix. (The whole corpus's count and the cases that need the stack: tests/e2e/test_hostile_inputs.py.)"""

from __future__ import annotations

import pytest
from ecs_handoff.artifact import read_artifact
from ecs_handoff.errors import ArtifactRejected

from tests.hostile import CASES, THROUGH_THE_STACK_TOO, Case

READER_CASES = [c for c in CASES if c.reader_only]


def test_hostile_corpus_has_at_least_30_cases() -> None:
    assert len(CASES) >= 30


def test_the_cases_sent_through_the_stack_too_are_reader_cases() -> None:
    assert set(THROUGH_THE_STACK_TOO) <= {c.name for c in READER_CASES}


@pytest.mark.parametrize("case", READER_CASES, ids=[c.name for c in READER_CASES])
def test_hostile_body_is_refused_by_the_reader_with_a_reason(case: Case) -> None:
    with pytest.raises(ArtifactRejected) as refused:
        read_artifact(case.body)
    assert case.expect in str(refused.value)
