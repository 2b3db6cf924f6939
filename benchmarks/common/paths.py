"""Where benchmark results are committed and where unfinished units keep their state (git-ignored)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository
RESULTS = ROOT / "benchmarks" / "results"
STATES = ROOT / "runs" / "benchmarks"  # resume state and claim of each unfinished unit (textcnn.jobs.units)
