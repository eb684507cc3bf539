"""Where the real letters live (shared/ beside the repo, or evals/letters as a fallback)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("IMR_SHARED", ROOT.parent / "shared"))
LETTERS = SHARED / "imr_letters"
EXAMPLE = SHARED / "example_letter.txt"
EVAL_LETTERS = ROOT / "evals" / "letters"
GOLD = ROOT / "evals" / "gold"


def real_letters() -> list[Path]:
    """The 144 real letter texts (falls back to evals/letters when shared/ is absent)."""
    found = sorted(LETTERS.glob("*.txt"))
    return found or sorted(EVAL_LETTERS.glob("CM*.txt"))


def real_pdfs() -> list[Path]:
    return sorted((LETTERS / "pdf").glob("*.pdf"))
