"""load: paths, bytes and text in; clear InputErrors for everything that is not a letter."""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pytest

from imr_llm import summarize
from imr_llm.errors import InputError
from imr_llm.letter.load import load_letter
from tests.helpers import blank_pdf, real_letters, real_pdfs


def test_text_file_keeps_its_text_and_hash(tmp_path: Path) -> None:
    """A utf-8 file loads verbatim with the sha256 of its bytes and its path as given."""
    data = b"Case Number: CM16-0000001\nPhysical therapy: Upheld\n"
    p = tmp_path / "l.txt"
    p.write_bytes(data)
    letter = load_letter(str(p))
    assert letter.text == data.decode()
    assert letter.sha256 == hashlib.sha256(data).hexdigest()
    assert letter.path == str(p) and letter.pages is None


def test_cp1252_text_decodes(tmp_path: Path) -> None:
    """A cp1252 file with curly quotes decodes instead of failing."""
    p = tmp_path / "l.txt"
    p.write_bytes("the \u201cRecommended\u201d text".encode("cp1252"))
    assert "\u201cRecommended\u201d" in load_letter(p).text


def test_str_with_newlines_is_letter_text() -> None:
    """A str holding the letter (with newlines) is text, with no path."""
    letter = load_letter("line one\nline two")
    assert letter.path is None and letter.text.startswith("line one")


@pytest.mark.skipif(not real_pdfs(), reason="shared PDFs not present")
def test_real_pdf_has_pages_and_text() -> None:
    """A real letter PDF loads through its text layer with a page count."""
    letter = load_letter(real_pdfs()[0])
    assert letter.pages and letter.pages >= 1
    assert "Case Number" in letter.text and "\r" not in letter.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (bytes(range(256)) * 40, "binary"),
        (b"%PDF-1.7\n%broken beyond repair", "broken"),
    ],
)
def test_bad_files_raise_input_error(tmp_path: Path, content: bytes, message: str) -> None:
    """Empty, binary and broken-PDF files raise InputError naming the problem."""
    p = tmp_path / "bad.pdf"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_letter(p)


def test_pdf_without_text_says_to_ocr(tmp_path: Path) -> None:
    """A PDF with no text layer asks for OCR."""
    p = tmp_path / "scan.pdf"
    p.write_bytes(blank_pdf())
    with pytest.raises(InputError, match="OCR"):
        load_letter(p)


def test_missing_path_is_input_error(tmp_path: Path) -> None:
    """A path that does not exist raises InputError, not FileNotFoundError."""
    with pytest.raises(InputError, match="no such file"):
        load_letter(str(tmp_path / "nope.pdf"))


def test_directory_is_input_error(tmp_path: Path) -> None:
    """A directory given as a letter raises InputError."""
    with pytest.raises(InputError, match="directory"):
        load_letter(tmp_path)


def test_oversized_text_is_refused() -> None:
    """Text past the documented size limit is refused, not processed."""
    with pytest.raises(InputError, match="limit"):
        load_letter("x\n" * 1_500_000)


@pytest.mark.skipif(not real_letters(), reason="shared letters not present")
@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-32-le", codecs.BOM_UTF32_LE),
    ],
)
def test_text_saved_with_a_byte_order_mark_reads_as_the_utf8_text(
    tmp_path: Path, encoding: str, bom: bytes
) -> None:
    """A real letter saved as UTF-16 LE/BE, UTF-32 or UTF-8 with a BOM reads to its UTF-8 text."""
    source = real_letters()[0]
    text = source.read_text(encoding="utf-8")
    p = tmp_path / "windows.txt"
    p.write_bytes(bom + text.encode(encoding))
    letter = load_letter(p)
    assert letter.text == load_letter(source).text == text
    assert not letter.text.startswith("\ufeff")
    assert letter.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.skipif(not real_letters(), reason="shared letters not present")
def test_spans_index_the_decoded_text_of_a_utf16_letter(tmp_path: Path) -> None:
    """Anchors of a UTF-16 letter point into the decoded text, as for the UTF-8 file."""
    source = real_letters()[0]
    p = tmp_path / "windows.txt"
    p.write_bytes(codecs.BOM_UTF16_LE + source.read_text(encoding="utf-8").encode("utf-16-le"))
    wide, plain = summarize(p, backend="rules"), summarize(source, backend="rules")
    assert wide.provenance == plain.provenance
    text = load_letter(p).text
    s, e = wide.provenance["case.case_number"]
    assert text[s:e] == wide.case.case_number


def test_utf16_mark_on_broken_utf16_is_a_clear_input_error(tmp_path: Path) -> None:
    """A UTF-16 mark followed by an unpaired surrogate is refused with the fix in the message."""
    p = tmp_path / "l.txt"
    p.write_bytes(codecs.BOM_UTF16_LE + "Case Number".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(InputError, match="UTF-16 byte-order mark but is not UTF-16 text"):
        load_letter(p)


def test_control_count_counts_what_the_control_class_matches() -> None:
    """control_count equals findall of the control-character class, on any characters."""
    import random
    import re

    from imr_llm.letter.load import control_count

    rng = random.Random(8)
    pool = [chr(c) for c in range(0x00, 0x80)] + ["é", "\u2028", "\ud800", "😀", "\x85"]
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 30)))
        assert control_count(text) == len(re.findall(r"[\x00-\x08\x0b\x0e-\x1f]", text)), text


@pytest.mark.skipif(not real_pdfs(), reason="shared PDFs not present")
def test_pdf_text_is_what_pypdfium2s_own_text_range_gives() -> None:
    """load's direct pdfium calls give the text of pypdfium2's get_text_range on every page."""
    import pypdfium2 as pdfium

    for path in real_pdfs()[::6]:
        doc = pdfium.PdfDocument(path)
        pages = [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
        want = "\n".join(pages).replace("\r\n", "\n").replace("\r", "\n")
        assert load_letter(path).text == want, path.name
