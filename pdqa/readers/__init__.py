"""Reading stage: a document file of any supported format → the text pdqa indexes and quotes.

Plain text and Markdown are read byte-for-byte. PDF (pypdfium2, with OCR for scans when the
``ocr`` extra is installed), HTML (trafilatura) and DOCX (python-docx) become Markdown-like text:
one paragraph per block, headings on lines of their own starting with ``#`` (the chunker's section
marker), list items starting with "• ", each table row on a line of its own that reads
"Column header: value; …". That text is what pdqa quotes; the index stores it beside itself, so
``quote == stored_text[start:end]`` holds for every format. Besides the text, a reader reports
where each page's text lies (PDF) and which spans are table rows, footnotes and the title page,
so the chunker can make them units of their own kind. Each reader library is imported only when
a file of its format is read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import CorpusError
from ..settings import CorpusSettings
from .base import REGION_KINDS, Extracted, NoText, TooLarge, check_size

__all__ = ["FORMATS", "READERS_SHA256", "REGION_KINDS", "Extracted", "NoText", "TooLarge", "check_size", "format_of", "read_document"]

HERE = Path(__file__).resolve().parent
# Recorded in the index manifest: a change to how text is extracted makes indexes stale ("reader changed").
READERS_SHA256 = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(HERE.glob("*.py")))).hexdigest()
FORMATS = {".txt": "text", ".md": "markdown", ".pdf": "pdf", ".html": "html", ".htm": "html", ".docx": "docx"}


def format_of(path: Path) -> str | None:
    """The format pdqa reads ``path`` as, or None when it is not a supported document."""
    return FORMATS.get(path.suffix.lower())


def read_document(path: Path, limits: CorpusSettings | None = None) -> Extracted:
    """Read one document file.

    Args:
        path: The file.
        limits: Most bytes a compressed document may inflate to and most characters of text
            (the ``corpus`` settings); default: their defaults.

    Raises:
        CorpusError: The file cannot be read or parsed, or is not a supported format.
        TooLarge: The document inflates to, or holds, more than ``limits`` allow.
        NoText: The document holds no text (a scan without OCR, an HTML page without content).
    """
    from . import docx, html, pdf

    limits = limits or CorpusSettings()
    kind = format_of(path)
    readers = {"text": _read_plain, "markdown": _read_plain, "pdf": pdf.read, "html": html.read, "docx": docx.read}
    if kind is None:
        raise CorpusError(f"unsupported document format: {path.name}", f"supported: {', '.join(sorted(FORMATS))}")
    try:
        extracted = readers[kind](path, limits)
    except CorpusError:
        raise
    except Exception as exc:  # each library has its own errors for a damaged file
        raise CorpusError(f"cannot read {kind} file {path}: {_first_line(exc)}") from exc
    if len(extracted.text) > limits.max_document_chars:
        raise TooLarge(f"{path.name} holds {len(extracted.text):,} characters of text, more than "
                       f"PDQA_CORPUS__MAX_DOCUMENT_CHARS ({limits.max_document_chars:,})")
    if kind not in ("text", "markdown") and not extracted.text.strip():
        raise NoText(f"{path.name}: no text found")
    return extracted


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _read_plain(path: Path, limits: CorpusSettings) -> Extracted:
    check_size(path, path.stat().st_size, limits, "is")
    # Exactly as stored (newline="" semantics): offsets index the file itself.
    return Extracted(text=path.read_bytes().decode("utf-8"), format=format_of(path))
