"""The short soak (2,000 mixed tasks with random errors and worker kills); the long one is
``python tests/soak.py`` (200,000 tasks), see docs/reliability.md."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from soak import soak  # noqa: E402


@pytest.mark.timeout(300)
def test_short_soak_every_ref_resolves_and_nothing_leaks(cluster):
    measured = soak(2000, seed=7, log=lambda line: None)
    assert measured["ok"] + measured["error"] + measured["crashed"] > 0
    assert measured["kills"] > 0  # the run did kill workers
    assert measured["error"] > 0  # and saw application errors, surfaced with their type
