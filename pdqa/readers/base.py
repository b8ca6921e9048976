"""What every reader returns, and the size limits every reader keeps to (imported by each format's module)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError
from ..settings import CorpusSettings

REGION_KINDS = ("table", "footnote", "front")


class NoText(CorpusError):
    """A document holds no extractable text (for example a scanned PDF without a text layer)."""


class TooLarge(CorpusError):
    """A document is larger than the corpus settings allow (a decompression bomb, or just huge)."""

    hint = ("Raise PDQA_CORPUS__MAX_INFLATED_MB, PDQA_CORPUS__MAX_INFLATE_RATIO or PDQA_CORPUS__MAX_DOCUMENT_CHARS "
            "if the document is genuine.")


@dataclass(frozen=True)
class Extracted:
    """What a reader makes of one file.

    Attributes:
        text: The text pdqa indexes and quotes.
        format: "text", "markdown", "pdf", "html" or "docx".
        title: The document's own title when it has one, else "".
        page_map: (offset, page) where the text of each 1-based page begins, in text order; a
            page may appear twice when a footnote or a sentence running over a page break moved
            part of its text (PDF only; empty elsewhere).
        page_labels: Each page's printed label (PDF, where the file or its folios give them).
        regions: (start, end, kind) spans of table rows ("table"), footnotes ("footnote") and
            the title page ("front").
        pages: Number of pages (PDF), else None.
    """

    text: str
    format: str
    title: str = ""
    page_map: tuple[tuple[int, int], ...] = ()
    page_labels: tuple[str, ...] = ()
    regions: tuple[tuple[int, int, str], ...] = ()
    pages: int | None = None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset`` (PDF), else None."""
        if not self.page_map:
            return None
        at = bisect_right([start for start, _ in self.page_map], offset) - 1
        return self.page_map[max(at, 0)][1]

    def label_of(self, page: int | None) -> str | None:
        """The printed label of a page, where the document has one."""
        if page is None or not 0 < page <= len(self.page_labels):
            return None
        return self.page_labels[page - 1] or None


# A small part may compress very well (a few hundred KB of repeated settings); a bomb is large.
RATIO_GRACE_BYTES = 1 << 20


def check_ratio(path: Path, compressed: int, inflated: int, limits: CorpusSettings) -> None:
    """Refuse a part that has inflated to more than ``corpus.max_inflate_ratio`` times its
    compressed size once past :data:`RATIO_GRACE_BYTES`: the parts of real documents inflate 1 to
    43 times (the report set's DOCX files), a decompression bomb hundreds of times."""
    if inflated > RATIO_GRACE_BYTES and inflated > limits.max_inflate_ratio * max(compressed, 1):
        raise TooLarge(f"{path.name} inflates more than {inflated // max(compressed, 1):,} times its compressed size, "
                       f"more than PDQA_CORPUS__MAX_INFLATE_RATIO ({limits.max_inflate_ratio:g}); refused as a "
                       "possible decompression bomb")


def check_size(path: Path, size: int, limits: CorpusSettings, what: str) -> None:
    """Refuse a document whose size (or inflated size) passes ``corpus.max_inflated_mb``."""
    if size > limits.max_inflated_mb * 1e6:
        raise TooLarge(f"{path.name} {what} {size / 1e6:,.0f} MB, more than PDQA_CORPUS__MAX_INFLATED_MB "
                       f"({limits.max_inflated_mb:g} MB); refused as a possible decompression bomb")
