"""submit.py reading a local run's summary: one written by other code is named, not a traceback.

The TPC-DS full run of 2026-12-06 exited 1 after its pipeline finished SUCCESS: a merge added a
field to the summary's model while the run went on, the summarize step (started later) wrote it,
and submit.py, still on the old model, failed to validate the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bqsynth.models import RunSummary
from submit import SummaryUnreadable, read_summary


def test_a_summary_of_this_code_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "summary"
    path.write_text(RunSummary(batch_id="b1", tables=[], seconds=2.5).model_dump_json())
    assert read_summary(str(path)).batch_id == "b1"


def test_a_summary_written_by_other_code_is_named_with_its_first_problem(tmp_path: Path) -> None:
    path = tmp_path / "summary"
    written = json.loads(RunSummary(batch_id="b1", tables=[], seconds=2.5).model_dump_json())
    path.write_text(json.dumps({**written, "text_realism": {"score": 1.0}}))  # a field this code lacks
    with pytest.raises(SummaryUnreadable) as raised:
        read_summary(str(path))
    message = str(raised.value)
    assert str(path) in message and "text_realism: Extra inputs are not permitted" in message
    assert "ran other bqsynth code than submit.py started with" in message
