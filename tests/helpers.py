"""Where the real letters live (shared/ beside the repo, or evals/letters as a fallback)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pypdfium2 as pdfium

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


def blank_pdf() -> bytes:
    """A valid one-page PDF with no text layer (what a scan without OCR looks like)."""
    pdf = pdfium.PdfDocument.new()
    pdf.new_page(612, 792)
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def labeled_subset(folder: Path, stems: list[str]) -> tuple[Path, Path]:
    """The labeled letters `stems` (evals/letters) and their gold copied into `folder`:
    (letters folder, gold folder)."""
    letters, gold = folder / "letters", folder / "gold"
    letters.mkdir()
    gold.mkdir()
    for stem in stems:
        shutil.copy(EVAL_LETTERS / f"{stem}.txt", letters)
        shutil.copy(GOLD / f"{stem}.json", gold)
    return letters, gold



def ran_as_python(test_file: str, name: str) -> bool:
    """For a test that monkeypatches a module global of a compiled module (compiled callers
    call each other directly, past the patch): in the mypyc build, run it in a pytest of its
    own with IMR_LLM_PURE=1, assert it passed, and say so (True: the caller returns); as
    Python, False (the caller goes on)."""
    import subprocess
    import sys

    from imr_llm import _native

    if not _native.ACTIVE:
        return False
    env = {**os.environ, "IMR_LLM_PURE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{test_file}::{name}"],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    return True
