"""OCR for pages without a text layer (scans): Tesseract, through pytesseract (the ``ocr`` extra).

A page is rendered by pypdfium2 at 300 dpi and read by Tesseract; its words come back with their
boxes and are grouped into lines with a size and a baseline in PDF points, so a scanned page goes
through the same layout as any other (headings by size, paragraphs by line spacing).
"""

from __future__ import annotations

import shutil
from functools import lru_cache

DPI = 300
MIN_CONFIDENCE = 30  # Tesseract's word confidence (0-100) below which a "word" is noise


@lru_cache(maxsize=1)
def available() -> bool:
    """Whether pytesseract and the tesseract program are installed."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return shutil.which("tesseract") is not None


def unavailable_reason() -> str:
    """Why OCR cannot run here, for a warning (or that it can)."""
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return "OCR needs pip install 'pdqa[ocr]' and Debian's tesseract-ocr"
    if shutil.which("tesseract") is None:
        return "OCR needs the tesseract program (Debian: apt install tesseract-ocr)"
    return "OCR found no text"


def page_lines(page) -> list[tuple[str, float, float, float, float]]:
    """(text, size, baseline, x0, x1) of each line Tesseract reads on a page, in PDF points."""
    import pytesseract

    scale = DPI / 72
    image = page.render(scale=scale).to_pil()
    height = page.get_height()
    data = pytesseract.image_to_data(image, lang="eng", output_type=pytesseract.Output.DICT)
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(data["text"]):
        if word.strip() and float(data["conf"][i]) >= MIN_CONFIDENCE:
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            lines.setdefault(key, []).append(i)
    out = []
    for key in sorted(lines, key=lambda k: min(data["top"][i] for i in lines[k])):
        words = sorted(lines[key], key=lambda i: data["left"][i])
        text = " ".join(data["text"][i].strip() for i in words)
        bottom = max(data["top"][i] + data["height"][i] for i in words) / scale
        size = sorted(data["height"][i] for i in words)[len(words) // 2] / scale * 1.4
        x0 = min(data["left"][i] for i in words) / scale
        x1 = max(data["left"][i] + data["width"][i] for i in words) / scale
        out.append((text, round(size, 1), round(height - bottom, 1), x0, x1))
    return out
