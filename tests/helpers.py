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

