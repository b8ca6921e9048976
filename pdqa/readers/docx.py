"""DOCX reader (python-docx): paragraphs and tables in document order.

Title and Heading *n* styles become headings, and so does a short paragraph set wholly in bold;
list paragraphs (Word numbering or a List style) become list items; each table row becomes one
line, "Header: value; …", a cell spanning columns counted once. Word's automatic numbering is
written out as it is printed ("2.2 Board Membership", "(f) …"): the numbers are part of what a
reader sees and cites. Paragraphs before the first heading, when they are few, are the title
page: one citable block.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ..settings import CorpusSettings
from .base import Extracted, check_ratio, check_size
from .layout import Block, TextBuilder, captions_as_headings, clean_cell, is_caption, table_row_text

HEADING_MAX_CHARS = 120
FRONT_MAX_WORDS = 120
FRONT_MAX_PARAGRAPHS = 12
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _check_inflated(path: Path, archive: zipfile.ZipFile, limits: CorpusSettings) -> None:
    """Inflate every part through a counter, a megabyte at a time, and refuse the file as soon as
    the total passes the size limit, or a part its ratio limit: zip headers may lie about the
    sizes they declare."""
    total = 0
    for member in archive.infolist():
        inflated = 0
        with archive.open(member) as part:
            while block := part.read(1 << 20):
                inflated += len(block)
                total += len(block)
                check_size(path, total, limits, "inflates to more than")
                check_ratio(path, member.compress_size, inflated, limits)


def read(path: Path, limits: CorpusSettings) -> Extracted:
    import docx

    with zipfile.ZipFile(path) as archive:  # refused before anything is inflated whole
        check_size(path, sum(member.file_size for member in archive.infolist()), limits, "inflates to")
        _check_inflated(path, archive, limits)
    document = docx.Document(str(path))
    styles = _Styles(document)
    blocks = _one_title(captions_as_headings(_continued_items(list(_blocks(document, _Numbering(document, styles), styles)))))
    title = _useful(document.core_properties.title or "") or next(
        (b.text for b in blocks if b.kind == "heading" and b.meta.get("style") == "Title"), ""
    ) or next((b.text for b in blocks if b.kind == "heading"), "")
    front = _front_matter(blocks)
    builder = TextBuilder()
    titles = [b for b in blocks if b.meta.get("style") == "Title" and blocks.index(b) == 0]
    for block in titles + ([front] if front else []) + blocks[len(titles):]:
        builder.add(block)
    return Extracted(text=builder.text, format="docx", title=title, regions=tuple(builder.regions))


def _one_title(blocks: list[Block]) -> list[Block]:
    """Consecutive paragraphs in the Title style are one title, set over lines of its own
    ("NHS Cambridgeshire and Peterborough Integrated Care Board" / "CONSTITUTION"): one heading."""
    out: list[Block] = []
    for block in blocks:
        if out and block.meta.get("style") == "Title" and out[-1].meta.get("style") == "Title":
            out[-1] = Block([(out[-1].text + " " + block.text, None)], "heading", meta=out[-1].meta)
        else:
            out.append(block)
    return out


def _continued_items(blocks: list[Block]) -> list[Block]:
    """A list item whose sentence goes on in the paragraph after it: Word's Enter pressed in the
    middle of an item leaves the rest an unnumbered paragraph that opens in lower case ("b) the
    proposals of the board" / "for changes in the arrangements …"). The two are one item."""
    out: list[Block] = []
    for block in blocks:
        previous = out[-1] if out else None
        first_word = block.text.split(maxsplit=1)[0].rstrip(",;:.")
        if (previous is not None and previous.kind == "item" and block.kind == "paragraph" and first_word.isalpha()
                and first_word.islower() and not previous.text.rstrip().endswith((".", ":", ";", "!", "?"))):
            previous.pieces[-1] = (previous.pieces[-1][0] + " " + block.text, previous.pieces[-1][1])
            continue
        out.append(block)
    return out


def _useful(title: str) -> str:
    """The document properties' title, unless it is a template's ("Master V1.3", "Document1")."""
    junk = ("master", "template", "document1", "untitled", "microsoft word")
    return "" if not title or any(j in title.lower() for j in junk) else title.strip()


class _Styles:
    """Paragraph and run styles by style id, looked up once each: python-docx scans every style of
    the document on each lookup of a paragraph's style (most paragraphs have the default one)."""

    def __init__(self, document):
        self.part = document.part
        self.seen: dict[tuple[str | None, object], object] = {}

    def _get(self, style_id, kind):
        key = (style_id, kind)
        if key not in self.seen:
            self.seen[key] = self.part.get_style(style_id, kind)
        return self.seen[key]

    def of_paragraph(self, paragraph):
        from docx.enum.style import WD_STYLE_TYPE

        return self._get(paragraph._p.style, WD_STYLE_TYPE.PARAGRAPH)

    def of_run(self, run):
        from docx.enum.style import WD_STYLE_TYPE

        return self._get(run._r.style, WD_STYLE_TYPE.CHARACTER)


def _blocks(document, numbering, styles):
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for element in document.element.body.iterchildren():
        if element.tag == f"{W}p":
            block = _paragraph(Paragraph(element, document), numbering, styles)
            if block is not None:
                yield block
        elif element.tag == f"{W}tbl":
            yield from _table(Table(element, document))


def _paragraph(paragraph, numbering, styles) -> Block | None:
    text = clean_cell(paragraph.text)
    if not text:
        return None
    found = styles.of_paragraph(paragraph)
    style = found.name if found is not None else ""
    if style.upper().startswith("TOC") or style.lower().startswith("table of figures"):
        return None  # a contents line: navigation, not text
    number, level = numbering.label(paragraph)
    if style == "Title" or re.fullmatch(r"Heading \d", style):
        return Block([(f"{number} {text}" if number and number != "•" else text, None)], "heading", meta={"style": style})
    if number == "•" or (number is None and level is not None):
        return Block([(text, None)], "item", level=level or 0)
    if number and _bold_heading(paragraph, styles, text):
        # A short numbered paragraph set wholly in bold is a numbered heading ("2.2 Board Membership"),
        # as a bold line standing alone is a heading without a number.
        return Block([(f"{number} {text}", None)], "heading", meta={"style": "bold"})
    if number:
        return Block([(f"{number} {text}", None)], "item", level=level or 0, meta={"numbered": True})
    if "List" in style and "Table" not in style:
        return Block([(text, None)], "item")
    if _bold_heading(paragraph, styles, text):
        return Block([(text, None)], "heading", meta={"style": "bold"})
    return Block([(text, None)], "paragraph", meta={"style": style})


class _Numbering:
    """Word's automatic numbering, counted as Word counts it, so each number reads as printed."""

    FORMATS = {
        "decimal": str,
        "decimalZero": lambda n: f"{n:02d}",
        "lowerLetter": lambda n: _letters(n).lower(),
        "upperLetter": lambda n: _letters(n),
        "lowerRoman": lambda n: _roman(n).lower(),
        "upperRoman": lambda n: _roman(n),
    }

    def __init__(self, document, styles):
        self.styles = styles
        self.levels: dict[str, dict[int, tuple[int, str, str]]] = {}
        self.abstract_of: dict[str, str] = {}
        self.starts: dict[str, dict[int, int]] = {}
        self.counters: dict[str, list[int]] = {}
        try:
            root = document.part.numbering_part.element
        except (KeyError, NotImplementedError, AttributeError):
            return
        for abstract in root.findall(f"{W}abstractNum"):
            levels = {}
            for level in abstract.findall(f"{W}lvl"):
                ilvl = int(level.get(f"{W}ilvl", "0"))
                start = level.find(f"{W}start")
                fmt = level.find(f"{W}numFmt")
                text = level.find(f"{W}lvlText")
                levels[ilvl] = (int(start.get(f"{W}val", "1")) if start is not None else 1,
                                fmt.get(f"{W}val", "decimal") if fmt is not None else "decimal",
                                text.get(f"{W}val", "") if text is not None else "")
            self.levels[abstract.get(f"{W}abstractNumId")] = levels
        for num in root.findall(f"{W}num"):
            num_id = num.get(f"{W}numId")
            reference = num.find(f"{W}abstractNumId")
            self.abstract_of[num_id] = reference.get(f"{W}val") if reference is not None else ""
            self.starts[num_id] = {
                int(override.get(f"{W}ilvl", "0")): int(start.get(f"{W}val", "1"))
                for override in num.findall(f"{W}lvlOverride")
                if (start := override.find(f"{W}startOverride")) is not None
            }

    def label(self, paragraph) -> tuple[str | None, int | None]:
        """The printed number of a paragraph ("2.2", "(f)", "•" for a bullet), and its level; (None, None) when unnumbered."""
        num_id, ilvl = _numbering_of(paragraph, self.styles)
        if num_id is None or num_id == "0":
            return None, None
        levels = self.levels.get(self.abstract_of.get(num_id, ""), {})
        if ilvl not in levels:
            return None, ilvl
        counters = self.counters.setdefault(num_id, [0] * 9)
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        # A level numbered before any paragraph of the levels above it prints their start values
        # ("1.1" with no "1" before it), and Word counts those levels as begun: the next
        # paragraph of the level above is the start value plus one ("2").
        for shallower in range(ilvl):
            if counters[shallower] == 0:
                counters[shallower] = self.starts.get(num_id, {}).get(shallower, levels.get(shallower, (1,))[0])
        start = self.starts.get(num_id, {}).get(ilvl, levels[ilvl][0])
        counters[ilvl] = start if counters[ilvl] == 0 else counters[ilvl] + 1
        _, fmt, text = levels[ilvl]
        if fmt == "bullet":
            return "•", ilvl
        if fmt == "none" or not text:
            return None, ilvl
        for level in range(ilvl + 1):
            level_fmt = levels.get(level, (1, "decimal", ""))[1]
            value = counters[level] or levels.get(level, (1,))[0]
            text = text.replace(f"%{level + 1}", self.FORMATS.get(level_fmt, str)(value))
        return text.strip() or None, ilvl


def _numbering_of(paragraph, styles) -> tuple[str | None, int]:
    """(numId, level) of a paragraph's numbering, its own or its style's (or the style's base)."""
    properties = paragraph._p.pPr
    numbering = properties.numPr if properties is not None else None
    style = styles.of_paragraph(paragraph)
    while numbering is None and style is not None:
        style_properties = style.element.pPr
        numbering = style_properties.numPr if style_properties is not None else None
        style = style.base_style
    if numbering is None or numbering.numId is None:
        return None, 0
    return str(numbering.numId.val), int(numbering.ilvl.val) if numbering.ilvl is not None else 0


def _letters(n: int) -> str:
    out = ""
    while n > 0:
        n, remainder = divmod(n - 1, 26)
        out = chr(65 + remainder) + out
    return out


def _roman(n: int) -> str:
    out = ""
    for value, numeral in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                           (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        while n >= value:
            out, n = out + numeral, n - value
    return out


def _bold_heading(paragraph, styles, text: str) -> bool:
    """A short paragraph set wholly in bold that ends no sentence or clause: a heading."""
    return _bold(paragraph, styles) and len(text) <= HEADING_MAX_CHARS and not text.endswith((".", ",", ";"))


def _bold(paragraph, styles) -> bool:
    runs = [run for run in paragraph.runs if run.text.strip()]
    return bool(runs) and all(run.bold or ((style := styles.of_run(run)) is not None and style.font.bold) for run in runs)


def _table(table):
    rows = []
    for row in table.rows:
        cells, seen = [], []
        for cell in row.cells:
            # python-docx repeats a cell that spans columns: count it once.
            if seen and cell._tc is seen[-1]:
                cells.append("")
                continue
            seen.append(cell._tc)
            cells.append(clean_cell(" ".join(p.text for p in cell.paragraphs)))
        rows.append(cells)
    rows = [row for row in rows if any(row)]
    if len(rows) < 2:
        yield from (Block([(" ".join(c for c in row if c), None)], "paragraph") for row in rows)
        return
    header = _spread(rows[0])
    for row in rows[1:]:
        text = table_row_text(header, row)
        if text:
            yield Block([(text, None)], "row")


def _spread(cells: list[str]) -> list[str]:
    """A header row with a spanned cell's text over every column it covers."""
    out = []
    for cell in cells:
        out.append(cell or (out[-1] if out else ""))
    return out


def _front_matter(blocks: list[Block]) -> Block | None:
    """The paragraphs before the first heading, when they are a title page: one block."""
    leading = []
    for block in blocks:
        if block.kind == "heading" and block.meta.get("style", "").startswith("Heading"):
            break
        leading.append(block)
    # The Title paragraph stays the document's first heading; the rest of the title page is the block.
    while leading and leading[0].meta.get("style") == "Title":
        leading.pop(0)
    offset = blocks.index(leading[0]) if leading else 0
    words = sum(len(block.text.split()) for block in leading)
    if not leading or len(leading) > FRONT_MAX_PARAGRAPHS or words > FRONT_MAX_WORDS or len(leading) == len(blocks):
        return None
    if any(block.kind in ("row", "item") or is_caption(block.text) for block in leading):
        return None
    del blocks[offset : offset + len(leading)]
    return Block([("\n".join(block.text for block in leading), None)], "front")
