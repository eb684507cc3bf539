"""path | bytes | str -> Letter. The only module that reads files or parses PDFs."""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from imr_llm.errors import InputError

#: Inputs larger than this are refused before reading (documented in the README).
MAX_INPUT_BYTES = 50 * 1024 * 1024
#: Extracted or given text longer than this is refused (a real letter is 5-60k chars).
MAX_TEXT_CHARS = 2_000_000
#: File names a folder of letters is read for (compared lower-cased).
LETTER_SUFFIXES = (".txt", ".pdf", ".text")

#: Control characters a text letter does not hold (all but tab, LF, form feed and CR), as bytes:
#: in UTF-8 each is one byte, and no byte of a longer sequence falls in this range.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20)])
_TEXT_ENCODINGS = ("utf-8", "cp1252", "latin-1")
# Byte-order marks of the wide encodings Windows editors write ("Unicode" is UTF-16 LE), longest
# first: a UTF-32 LE mark begins with the UTF-16 LE one. The codec named reads the mark and
# drops it. (A UTF-8 mark is dropped after decoding, below.)
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class Letter:
    """One letter's text as read, with where it came from."""

    text: str
    sha256: str
    path: str | None = None
    pages: int | None = None
    kind: str = "text"  # "text" | "pdf"

    @property
    def name(self) -> str:
        return self.path or f"<{self.kind} {self.sha256[:12]}>"


#: What `load_letter` (and so `summarize`) accepts: a path, raw bytes, text, or a Letter
#: already loaded (returned as is, so a caller that needs the text reads the file once).
LetterInput = str | bytes | os.PathLike[str] | Letter


def load_letter(source: LetterInput) -> Letter:
    """Read a letter from a path, raw bytes, or text.

    A `str` is taken as a path when it has no newline and names an existing file or ends in
    .txt/.pdf; otherwise it is the letter's text. Bytes starting with %PDF are a PDF.
    """
    if isinstance(source, Letter):
        return source
    if isinstance(source, bytes):
        return _from_bytes(source, path=None)
    if isinstance(source, os.PathLike) or _looks_like_path(source):
        return _from_path(Path(source), given=os.fspath(source))
    if isinstance(source, str):
        return _from_text(source)
    raise InputError(
        f"cannot read a letter from {type(source).__name__}: pass a path, bytes or str"
    )


def _looks_like_path(source: object) -> bool:
    if not isinstance(source, str) or "\n" in source or len(source) > 4096:
        return False
    return source.lower().endswith((".txt", ".pdf", ".text")) or os.path.exists(source)


def _from_path(path: Path, given: str) -> Letter:
    # One open, one fstat, one read (a stat of the path and then a read that opens and stats it
    # again cost a letter a third of its loading time).
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the checks that need it open
    except FileNotFoundError:
        raise InputError(f"{given}: no such file") from None
    except ValueError:  # open refuses a NUL byte in a path
        raise InputError(f"{given!r}: not a usable file name (it contains a NUL byte)") from None
    except OSError as exc:
        if os.path.isdir(path):  # IsADirectoryError here; PermissionError on some systems
            raise InputError(f"{given}: is a directory, not a letter") from None
        raise InputError(f"{given}: cannot read ({exc.strerror or exc})") from None
    with fh:
        info = os.fstat(fh.fileno())
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{given}: is a directory, not a letter")
        size = info.st_size
        if size > MAX_INPUT_BYTES:
            raise InputError(
                f"{given}: {size:,} bytes is over the {MAX_INPUT_BYTES // (1024 * 1024)} MiB "
                "input limit; a real IMR letter is well under 1 MiB"
            )
        try:
            data = fh.read()
        except OSError as exc:
            raise InputError(f"{given}: cannot read ({exc.strerror or exc})") from None
    return _from_bytes(data, path=given)


def _from_bytes(data: bytes, path: str | None) -> Letter:
    label = path or "input"
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{label}: {len(data):,} bytes is over the input limit")
    if not data or data.isspace():  # not data.strip(), without copying the data
        raise InputError(f"{label}: is empty")
    sha = hashlib.sha256(data).hexdigest()
    if data.startswith(b"%PDF-") or data.lstrip()[:5] == b"%PDF-":
        text, pages = pdf_text(data, label)
        _check_text(text, label)
        return Letter(text=text, sha256=sha, path=path, pages=pages, kind="pdf")
    text = _decode(data, label)
    _check_text(text, label)
    return Letter(text=text, sha256=sha, path=path)


def _from_text(text: str) -> Letter:
    _check_text(text, "input")
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Letter(text=text, sha256=sha)


def _decode(data: bytes, label: str) -> str:
    for bom, codec in _WIDE_BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{label}: starts with a {codec.upper()} byte-order mark but is not "
                    f"{codec.upper()} text ({exc.reason} at byte {exc.start}): save it again "
                    "as UTF-8 or UTF-16"
                ) from None
    if b"\x00" in data[:4096]:
        raise InputError(f"{label}: looks like a binary file, not a letter (text or PDF)")
    for encoding in _TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff")
    raise InputError(f"{label}: cannot decode as text")  # pragma: no cover - latin-1 never fails


def _check_text(text: str, label: str) -> None:
    if not text.strip():
        raise InputError(f"{label}: is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(
            f"{label}: {len(text):,} characters is over the {MAX_TEXT_CHARS:,}-character limit"
        )
    sample = text[:8192]
    controls = control_count(sample)
    if controls > max(8, len(sample) // 100):
        raise InputError(f"{label}: looks like a binary file, not a letter (text or PDF)")


def control_count(text: str) -> int:
    """How many control characters other than tab, LF, form feed and CR `text` holds.

    Counted on its UTF-8 bytes (what `re.findall(r"[\\x00-\\x08\\x0b\\x0e-\\x1f]")` counts on the
    text, several times faster); surrogatepass lets a lone surrogate through as 3 other bytes.
    """
    data = text.encode("utf-8", "surrogatepass")
    return len(data) - len(data.translate(None, _CONTROL_BYTES))


def pdf_text(data: bytes, label: str = "input") -> tuple[str, int]:
    """Text layer of a PDF, pages joined with a newline; InputError when there is none.

    The document is opened and closed as `pypdfium2.PdfDocument(data)` does it (the same calls,
    the same refusal of a document without pages), without the wrapper object.
    """
    import pypdfium2 as pdfium
    import pypdfium2.internal as pdfium_i
    import pypdfium2.raw as pdfium_c

    doc = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
    pages = pdfium_c.FPDF_GetPageCount(doc)
    if pages < 1:
        code = pdfium_c.FPDF_GetLastError()
        if doc:
            pdfium_c.FPDF_CloseDocument(doc)
        raise InputError(f"{label}: broken or encrypted PDF (Failed to load document "
                         f"(PDFium: {pdfium_i.ErrorToStr.get(code)}).)")
    try:
        parts = [_page_text(doc, index) for index in range(pages)]
    except pdfium.PdfiumError as exc:
        raise InputError(f"{label}: broken PDF ({exc})") from None
    finally:
        pdfium_c.FPDF_CloseDocument(doc)
    text = "\n".join(parts).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(
            f"{label}: PDF has no text layer (a scan?): OCR it first, "
            "e.g. `ocrmypdf in.pdf out.pdf`"
        )
    return text, pages


def _page_text(doc: object, index: int) -> str:
    """`pdf[index].get_textpage().get_text_range()` of pypdfium2 5, through pdfium's own calls.

    The same calls in the same order (load the page and its text page, count the characters,
    narrow the range past characters the text view leaves out, get the text, decode it), without
    the page and text page objects pypdfium2 builds, registers and finalizes around them: those
    cost more than reading the file and hashing it.
    """
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    page = pdfium_c.FPDF_LoadPage(doc, index)
    if not page:
        raise pdfium.PdfiumError("Failed to load page.")
    try:
        textpage = pdfium_c.FPDFText_LoadPage(page)
        if not textpage:
            raise pdfium.PdfiumError("Failed to load text page.")
        try:
            count = pdfium_c.FPDFText_CountChars(textpage)
            if count == -1:
                raise pdfium.PdfiumError("Failed to get character count.")
            first, last, left, right = 0, count - 1, 0, 0
            while True:  # PdfTextPage._get_active_text_range, as a loop
                if first > last:
                    return ""
                t_start = pdfium_c.FPDFText_GetTextIndexFromCharIndex(textpage, first)
                if t_start == -1:
                    first, left = first + 1, left + 1
                    continue
                t_end = pdfium_c.FPDFText_GetTextIndexFromCharIndex(textpage, last)
                if t_end == -1:
                    last, right = last - 1, right + 1
                    continue
                break
            size = t_end + 2 - t_start  # including the NUL terminator
            buffer = (ctypes.c_ushort * size)()
            written = pdfium_c.FPDFText_GetText(textpage, left, count - left - right, buffer)
            return codecs.decode(memoryview(buffer)[: written - 1], "utf-16-le", errors="ignore")
        finally:
            pdfium_c.FPDFText_ClosePage(textpage)
    finally:
        pdfium_c.FPDF_ClosePage(page)
