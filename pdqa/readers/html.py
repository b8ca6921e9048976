"""HTML reader (trafilatura): the page's main content, as a browser shows it, in Markdown blocks.

Text a browser does not show (``hidden``, ``aria-hidden``, ``display:none``, ``visibility:hidden``,
``<template>``) is removed first: it is not the page's text, and a classic carrier of injected
orders. trafilatura then keeps the main content (navigation, cookie banners and footers left out)
as Markdown; its tables become one line per row, "Header: value; …".
"""

from __future__ import annotations

import re
from pathlib import Path

from ..settings import CorpusSettings
from .base import Extracted, check_size
from .layout import Block, TextBuilder, captions_as_headings, clean_cell, table_row_text

HIDDEN_XPATH = (
    "//template | //*[@hidden] | //*[@aria-hidden='true']"
    " | //*[contains(translate(translate(@style, ' ', ''), 'DISPLAYNOEVISBLTH', 'displaynoevisblth'), 'display:none')]"
    " | //*[contains(translate(translate(@style, ' ', ''), 'DISPLAYNOEVISBLTH', 'displaynoevisblth'), 'visibility:hidden')]"
)
TABLE_RULE_RE = re.compile(r"^\|?\s*:?-{3,}")
MARKDOWN_BULLET_RE = re.compile(r"^(\s*)[-*+]\s+")


def read(path: Path, limits: CorpusSettings) -> Extracted:
    import trafilatura

    check_size(path, path.stat().st_size, limits, "is")
    html = _visible_html(path.read_bytes())
    markdown = trafilatura.extract(html, output_format="markdown", include_tables=True, include_comments=False) or ""
    metadata = trafilatura.extract_metadata(html)
    builder = TextBuilder()
    for block in captions_as_headings(list(_blocks(markdown))):
        builder.add(block)
    return Extracted(text=builder.text, format="html", title=(metadata and metadata.title) or "",
                     regions=tuple(builder.regions))


def _visible_html(html: bytes):
    """The page without the elements a browser hides."""
    import lxml.html

    try:
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return html
    for element in tree.xpath(HIDDEN_XPATH):
        if element.getparent() is not None:
            element.drop_tree()
    return lxml.html.tostring(tree, encoding="unicode")


def _blocks(markdown: str):
    """Markdown lines as blocks: headings, list items, table rows, paragraphs."""
    paragraph: list[str] = []
    table: list[list[str]] = []

    def flush():
        nonlocal paragraph, table
        if paragraph:
            yield Block([(" ".join(paragraph), None)], "paragraph")
            paragraph = []
        if table:
            yield from _table_blocks(table)
            table = []

    for raw in markdown.splitlines():
        line = raw.rstrip()
        if line.lstrip().startswith("|"):
            if paragraph:
                yield from flush()
            if not TABLE_RULE_RE.match(line.strip()):
                table.append([clean_cell(cell) for cell in line.strip().strip("|").split("|")])
            continue
        if table:
            yield from flush()
        if not line.strip():
            yield from flush()
            continue
        if line.startswith("#"):
            yield from flush()
            yield Block([(line.lstrip("#").strip(), None)], "heading")
            continue
        bullet = MARKDOWN_BULLET_RE.match(line)
        if bullet:
            yield from flush()
            yield Block([(clean_cell(line[bullet.end():]), None)], "item", level=len(bullet.group(1)) // 2)
            continue
        paragraph.append(line.strip())
    yield from flush()


def _table_blocks(rows: list[list[str]]):
    # trafilatura writes a table's <caption> (or a title cell spanning its columns) as its first
    # row, one cell filled: it is the caption the rows read under, not their header.
    if len(rows) >= 3 and sum(1 for cell in rows[0] if cell) == 1 and rows[0][0]:
        yield Block([(rows[0][0], None)], "heading", meta={"caption": True})
        rows = rows[1:]
    if len(rows) < 2:
        yield from (Block([(" ".join(c for c in row if c), None)], "paragraph") for row in rows if any(row))
        return
    header = rows[0]
    for row in rows[1:]:
        text = table_row_text(header, row)
        if text:
            yield Block([(text, None)], "row")
