"""Extraction quality of candidate readers on pdqa's test documents (tests/documents.py).

For each format, each candidate reader's text is scored on:
  sentences  share of the document's known sentences found whole (whitespace folded),
  leaked     running headers, page numbers, navigation, cookie and footer lines kept,
  headings   share of the document's headings marked as headings (a "#" line: what makes a section),
  ms         extraction time per document (median of 5).

Run: .venv/bin/python bench/readers_generated.py   (needs the `bench` extra: pypdf, readability-lxml, docx2txt)
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import documents as docs  # noqa: E402

from pdqa.readers import read_document  # noqa: E402


def pdfium_plain(path: Path) -> str:
    import pypdfium2 as pdfium

    return "\n".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(str(path)))


def pypdf_plain(path: Path) -> str:
    # LlamaIndex's PDFReader (llama-index-readers-file) is pypdf's extract_text, one node per page.
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(str(path)).pages)


def trafilatura_markdown(path: Path) -> str:
    import trafilatura

    return trafilatura.extract(path.read_text(encoding="utf-8"), output_format="markdown") or ""


def readability_text(path: Path) -> str:
    import lxml.html
    from readability import Document

    summary = lxml.html.fromstring(Document(path.read_text(encoding="utf-8")).summary())
    marks = {"h1": "# ", "h2": "## ", "h3": "### "}
    return "\n".join(marks.get(e.tag, "") + e.text_content() for e in summary.iter("h1", "h2", "h3", "p", "li"))


def justext_text(path: Path) -> str:
    import justext

    paragraphs = justext.justext(path.read_bytes(), justext.get_stoplist("English"))
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def docx2txt_text(path: Path) -> str:
    # LlamaIndex's DocxReader is docx2txt.
    import docx2txt

    return docx2txt.process(str(path))


def pdqa_reader(path: Path) -> str:
    return read_document(path).text


CANDIDATES = {
    "pdf": {"pdqa (pypdfium2 + hygiene)": pdqa_reader, "pypdfium2 text": pdfium_plain, "pypdf (LlamaIndex PDFReader)": pypdf_plain},
    "html": {"pdqa (trafilatura markdown)": pdqa_reader, "readability-lxml": readability_text, "jusText": justext_text},
    "docx": {"pdqa (python-docx + styles)": pdqa_reader, "docx2txt (LlamaIndex DocxReader)": docx2txt_text},
}
LEAKS = {
    "pdf": (docs.RUNNING_HEADER, re.compile(r"^\s*\d+\s*$", re.MULTILINE)),
    "html": docs.BOILERPLATE[:2] + docs.BOILERPLATE[5:] + (re.compile(r"^\W*(Home|Publications|Contact us)\W*$", re.MULTILINE),),
    "docx": (),
}


def score(kind: str, text: str) -> tuple[float, int, float]:
    folded = " ".join(text.split())
    sentences = docs.SENTENCES[kind]
    found = sum(sentence in folded for sentence in sentences) / len(sentences)
    leaked = sum(bool(leak.search(text)) if isinstance(leak, re.Pattern) else leak in text for leak in LEAKS[kind])
    lines = {line.strip() for line in text.splitlines()}
    lines = {line.lstrip("# ") for line in lines if line.startswith("#")}
    headings = sum(heading in lines for heading in docs.HEADINGS[kind]) / len(docs.HEADINGS[kind])
    return found, leaked, headings


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        files = {"pdf": docs.make_pdf(folder / "r.pdf"), "html": docs.make_html(folder / "r.html"), "docx": docs.make_docx(folder / "r.docx")}
        print("| format | reader | sentences | leaked | headings | ms |")
        print("|---|---|---|---|---|---|")
        for kind, readers in CANDIDATES.items():
            for name, reader in readers.items():
                times = []
                for _ in range(5):
                    started = time.perf_counter()
                    text = reader(files[kind])
                    times.append((time.perf_counter() - started) * 1000)
                found, leaked, headings = score(kind, text)
                print(f"| {kind} | {name} | {found:.2f} | {leaked} | {headings:.2f} | {statistics.median(times):.1f} |")


if __name__ == "__main__":
    main()
