"""Tables in PDF pages, found from the ruling lines and cell shading they are drawn with.

A table in a report PDF (Word, InDesign, a browser's print) is drawn: its cell borders are thin
lines or rectangles, and shaded cells are filled rectangles. Their horizontal and vertical edges
form a grid; each grid cell holds the characters whose centre lies in it, and a row band without
a border at a column edge joins the cells on either side (a spanned cell). A grid counts as a
table only when at least two of its rows have text in at least two cells: a chart's frame or a
boxed paragraph does not. A table goes on through the lines of text above and below its grid
whose words stand in its columns (a shaded header row over unruled figures), and its first row
is its header only when it is set apart from the rows under it.
"""

from __future__ import annotations

import bisect
import ctypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .layout import clean_cell, is_caption, table_row_text

TOLERANCE = 2.0  # points: edges closer than this are one edge
THIN = 2.5  # points: a path thinner than this is a line
MIN_CELL = 4.0  # points: grid lines closer than this are one line
# A row goes on the table when it stands within this many row heights of the row above it.
ALIGNED_STEP = 1.6
ROW_LINES = 1.5  # of the text size: a row of one line, with its cell's padding
CUT_ROW_GAP = 0.4  # of the size: the cells of a row cut by a page break stand this far apart at least (more than a word space)
MULTI_LINE_ROWS = 3  # rows this many lines high, or more, are each ruled off: a line is no row
AVERAGE_WIDTH = 0.55  # of the size: a character's width, on average
WORD_GAP = 1.5  # of the size: characters further apart than this are two words
COLUMN_GAP = 1.0  # of the size: words in two columns stand further apart than this (a word space is a third of it)
SIZE_STEP = 0.5  # points: text sizes closer than this are one size
PIECE_GAP = 3.0  # points: pieces of one border drawn end to end may leave this much between them (a rule's width)
PAGE_FRAME_SHARE = 0.9  # a rectangle covering most of the page is a frame, not a cell


@dataclass
class Table:
    """One table: its cells (rows × columns, "" for empty), which characters it took, where it starts."""

    rows: list[list[str]]
    char_indexes: set[int]
    first_char: int
    caption: str = ""
    header_rows: int = 1
    columns: list[tuple[float, float]] = field(default_factory=list)  # each column's x-range
    top: float = 0.0  # the grid's top, bottom and left edges
    bottom: float = 0.0
    left: float = 0.0
    pitch: float = 0.0  # the usual height of its rows
    top_shaded: bool = False  # its first drawn row is filled with a colour (a header drawn alone, often)
    open_end: bool = False  # its last row runs on past its last rule (to the page's end): the next part's first row goes on with it

    def header(self) -> list[str]:
        """Column headers: the header rows' cells of each column joined ("Workforce size in 2020 – WTEs")."""
        columns = len(self.rows[0]) if self.rows else 0
        return [" ".join(row[c] for row in self.rows[: self.header_rows] if row[c]) for c in range(columns)]

    def body_rows(self) -> list[list[str]]:
        """The body's rows, a wrapped label's lines put back together: one for each of :meth:`row_texts`."""
        return _wrapped_joined(self.rows[self.header_rows :])

    def row_texts(self, header: list[str] | None = None) -> list[str]:
        """Each body row as "Header: value; …" (``header``: another part's, for a table continued).

        A row holding only a label ("Age") names the group of the rows under it, and goes before
        their own labels ("Age, 25-44 years"), so each row reads whole on its own.
        """
        header = header or self.header()
        texts, group, label = [], "", ""
        for row in self.body_rows():
            if row[0] and not any(row[1:]) and len(row) > 1:
                group, label = row[0], ""
                texts.append(table_row_text(header[:1], [row[0]]))  # "Characteristic: Age", under its column's header
                continue
            # An empty first cell under a label is that label's cell spanning rows.
            label = row[0] or label
            cells = [f"{group}, {label}" if group and label else label, *row[1:]]
            if text := table_row_text(header, cells):
                texts.append(text)
        return texts


def _wrapped_joined(rows: list[list[str]]) -> list[list[str]]:
    """Body rows with the lines of a wrapped first cell put back together: a first cell that
    begins in lower case continues the label above it ("… (e.g., hostel," / "refuge)"), and a
    label alone followed by figures with no label is one row (figures set level with the middle
    of a label of two lines)."""
    joined: list[list[str]] = []
    for row in rows:
        previous = joined[-1] if joined else None
        if previous and previous[0] and row[0][:1].islower() and all(not (a and b) for a, b in zip(previous[1:], row[1:])):
            joined[-1] = [f"{previous[0]} {row[0]}", *[a or b for a, b in zip(previous[1:], row[1:])]]
        elif previous and previous[0] and not any(previous[1:]) and not row[0] and any(row[1:]):
            joined[-1] = [previous[0], *row[1:]]
        else:
            joined.append(list(row))
    return joined


def page_paths(page) -> list[tuple[object, float, float, float, float]]:
    """(object, x0, y0, x1, y1) of every path a page draws (rules, boxes, fills, dots): read once
    for the grid, the cells' shading and the bullets drawn as shapes."""
    import pypdfium2.raw as raw

    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    paths = []
    for index in range(raw.FPDFPage_CountObjects(page.raw)):
        obj = raw.FPDFPage_GetObject(page.raw, index)
        if raw.FPDFPageObj_GetType(obj) == raw.FPDF_PAGEOBJ_PATH and raw.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
            paths.append((obj, left.value, bottom.value, right.value, top.value))
    return paths


def has_grid(page, paths) -> bool:
    """Whether the page draws enough edges to hold a table grid (cheap: no characters read);
    ``paths`` are its :func:`page_paths`."""
    horizontal, vertical = _edges(page, paths)
    return len(horizontal) >= 3 and len(vertical) >= 3


def find_tables(page, paths, chars: list, bold: Callable[[int], bool] | None = None) -> list[Table]:
    """The tables of a page. ``paths`` are its :func:`page_paths`; ``chars`` are (char, x, y, size,
    weight, index) of its characters; ``bold`` tells whether the character of an index is set bold
    (what sets a header row apart).

    A page turned by /Rotate (a landscape table in a portrait document) draws its grid and text
    turned in the page's own coordinates: both are turned upright first, as a viewer shows them.
    """
    horizontal, vertical = _edges(page, paths)
    if len(horizontal) < 3 or len(vertical) < 3:
        return []
    fills = _fills(paths)
    if page.get_rotation():
        horizontal, vertical, chars, fills = _upright(page, horizontal, vertical, chars, fills)
    tables: list[Table] = []
    taken: set[int] = set()
    header: Table | None = None  # a one-row grid (a header drawn apart from its body)
    for hs, vs in sorted(_components(horizontal, vertical), key=lambda group: -max(y for y, _, _ in group[0])):
        table = _grid_table(hs, vs, [c for c in chars if c[5] not in taken], bold, fills)
        if table is None:
            continue
        taken |= table.char_indexes
        taken |= _aligned_rows(table, [c for c in chars if c[5] not in taken], horizontal, bold)
        if len(table.rows) == 1:
            header = table
            continue
        if header is not None and len(header.rows[0]) == len(table.rows[0]) and _opens_with_section(table):
            table.rows.insert(0, header.rows[0])
            table.char_indexes |= header.char_indexes
            table.first_char = min(table.first_char, header.first_char)
            table.header_rows = 1
        header = None
        tables.append(table)
    return tables


def _aligned_rows(table: Table, chars: list, horizontal=(), bold: Callable[[int], bool] | None = None) -> set[int]:
    """Add to a table the lines of text above and below its drawn cells whose words stand in its
    columns: a table drawn with shading or rules on some rows only (a shaded header over unruled
    figures, shaded bands of rows between plain ones) goes on where its columns go on. Lines above
    it, up to a rule across the table, are its header, one row (a rule between two lines above
    the grid makes them rows of a table whose grid was not found, no header); where weights are
    known, a line above set like the grid's rows (not bold over regular rows) is a row the grid
    missed, not a header line; each line below is a row of two cells or more; a line of the first
    column alone (a group's label) counts when a row follows it. Returns the characters taken."""
    if not table.columns or not chars:
        return set()
    lines = _text_lines(chars)
    step = ALIGNED_STEP * max(table.pitch, ROW_LINES * max((c[3] for c in chars), default=0.0))
    columns = table.columns
    # The grid's first columns may hold no text (the corner over the row labels of a header
    # drawn alone): the row labels under it stand there.
    corner = columns[0][0] - table.left > 2 * MIN_CELL
    if corner:
        columns = [(table.left, columns[0][0]), *columns]
    below = [line for line in lines if line[0][2] < table.bottom]
    above = [line for line in reversed(lines) if line[0][2] > table.top]
    taken: set[int] = set()
    rows, edge = [], table.bottom
    size = max(c[3] for c in chars)
    # Under a grid whose rows are each ruled off and hold several lines, the lines below its
    # last rule are one row that no rule closes: a row that a page break cuts, its cells' lines.
    folding = table.pitch > MULTI_LINE_ROWS * ROW_LINES * size
    for i, line in enumerate(below):
        # The cut row's lines follow each other closely; its cells are parted by their padding only.
        cells = _aligned_cells(columns, line, CUT_ROW_GAP if folding else COLUMN_GAP)
        if cells is None or edge - line[0][2] > (2 * ROW_LINES * size if folding else step):
            break
        if folding and rows:
            rows.append(cells)
            taken |= {c[5] for c in line}
            edge = line[0][2]
            continue
        if not cells[0] and sum(1 for cell in cells if cell) < 2:
            break  # a figure alone under the table: a page number, a note's number
        # A label alone: a group heading only over a row of figures, or the wrapped end of the
        # label above ("refuge)" under "In supported accommodation (e.g., hostel,").
        if not any(cells[1:]) and not (rows and cells[0][:1].islower()):
            following = below[i + 1] if i + 1 < len(below) else None
            later = _aligned_cells(columns, following) if following is not None else None
            if later is None or not any(later[1:]) or line[0][2] - following[0][2] > step:
                break
        rows.append(cells)
        taken |= {c[5] for c in line}
        edge = line[0][2]
    if folding and rows:
        rows = [[" ".join(cell for cell in column if cell) for column in zip(*rows)]]
        table.open_end = True
    if len(table.rows) == 1 and table.header_rows == 1 and rows and bold is not None and not table.top_shaded \
            and _mostly_bold(table.char_indexes, bold) == _mostly_bold(taken, bold):
        table.header_rows = 0  # one drawn row set like the rows under it (no fill, same weight) is one of them
    header, missed, edge = [], [], table.top
    width = columns[-1][1] - columns[0][0]
    # Rows the grid missed can only be told from header lines when the grid has no header itself.
    body_bold = _mostly_bold(table.char_indexes, bold) if table.header_rows == 0 else None
    for line in above:
        cells = _aligned_cells(columns, line)
        if cells is None or line[0][2] - edge > step or sum(1 for cell in cells if cell) < 2:
            break
        if any(edge + TOLERANCE < y < line[0][2] and min(x1, columns[-1][1]) - max(x0, columns[0][0]) > width / 2
               for y, x0, x1 in horizontal):
            break  # a rule between the grid and this line: it is no header
        if not header and body_bold is False and _mostly_bold([c[5] for c in line], bold) is False:
            missed.insert(0, cells)  # set like the rows: a row whose rules were not found
        else:
            header = [f"{a} {b}".strip() for a, b in zip(cells, header)] if header else cells
        taken |= {c[5] for c in line}
        edge = line[0][2] + 0.5 * line[0][3]  # above its baseline, below the next line's descenders
    if corner and any(row[0] for row in rows + missed + ([header] if header else [])):
        table.rows = [["", *row] for row in table.rows]
        table.columns = columns
    elif corner:
        rows, missed, header = [row[1:] for row in rows], [row[1:] for row in missed], header[1:]
    table.rows[0:0] = missed
    table.rows.extend(rows)
    if header:
        table.rows.insert(0, header)
        table.header_rows = 1
    if taken:
        table.char_indexes |= taken
        table.first_char = min(table.char_indexes)
    return taken


def _mostly_bold(indexes, bold: Callable[[int], bool] | None) -> bool | None:
    """Whether most of these characters are set bold (None: weights not known, or no character)."""
    flags = [bold(i) for i in indexes] if bold is not None else []
    return sum(flags) * 2 > len(flags) if flags else None


def _text_lines(chars: list) -> list[list[tuple]]:
    """Characters grouped into lines by baseline, top to bottom, each in pdfium's order."""
    lines: list[list[tuple]] = []
    for char in sorted((c for c in chars if not c[0].isspace() or c[1] or c[2]), key=lambda c: (-c[2], c[5])):
        if lines and abs(lines[-1][0][2] - char[2]) <= 0.3 * max(char[3], 1.0):
            lines[-1].append(char)
        else:
            lines.append([char])
    return [sorted(line, key=lambda c: c[5]) for line in lines]


def _aligned_cells(columns: list[tuple[float, float]], line: list[tuple], gap: float = COLUMN_GAP) -> list[str] | None:
    """The line's words put in the table's columns (x-ranges), or None when a word crosses a
    column's edge or stands outside the table (a paragraph, a caption wider than the first column)."""
    bounds = [columns[0][0]]
    bounds += [(a[1] + b[0]) / 2 for a, b in zip(columns, columns[1:])]
    bounds.append(columns[-1][1])
    cells: list[list[str]] = [[] for _ in columns]
    previous: tuple[int, float] | None = None  # the column and right end of the word before
    for word in _words(line):
        x0, x1 = word[0][1], word[-1][1] + AVERAGE_WIDTH * word[-1][3]
        tolerance = word[0][3]
        # The column the word starts in, else one it overhangs by less than a character's size.
        column = next((c for c in range(len(columns)) if bounds[c] - TOLERANCE <= x0 < bounds[c + 1] - TOLERANCE and x1 <= bounds[c + 1] + tolerance), None)
        if column is None:
            column = next((c for c in range(len(columns)) if bounds[c] - tolerance <= x0 and x1 <= bounds[c + 1] + tolerance), None)
        if column is None:
            return None
        # Cells are set apart by a gutter; words a space apart run on, as prose does, whatever
        # columns they happen to fall in.
        if previous is not None and column != previous[0] and x0 - previous[1] < gap * word[0][3]:
            return None
        previous = (column, x1)
        cells[column].append("".join(c[0] for c in word))
    return [clean_cell(" ".join(words)) for words in cells]


def _words(line: list[tuple]) -> list[list[tuple]]:
    """A line's words: its characters split at spaces and at gaps wider than a space."""
    words: list[list[tuple]] = []
    for char in line:
        if char[0].isspace():
            if words and words[-1]:
                words.append([])
            continue
        if words and words[-1] and char[1] - words[-1][-1][1] > WORD_GAP * char[3]:
            words.append([])
        if not words:
            words.append([])
        words[-1].append(char)
    return [word for word in words if word]


def _opens_with_section(table: Table) -> bool:
    """The first row is a label alone ("Age"), not a header: the table's header was drawn apart."""
    first = table.rows[0]
    return bool(first[0]) and not any(first[1:])


# ---------------------------------------------------------------- edges


def _edges(page, paths) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    """Horizontal (y, x0, x1) and vertical (x, y0, y1) edges drawn on the page (its ``paths``)."""
    width, height = page.get_size()
    if page.get_rotation() in (90, 270):
        width, height = height, width  # the page as drawn, not as shown
    horizontal, vertical = [], []
    hidden = _hidden_fills(paths)
    for obj, x0, y0, x1, y1 in paths:
        w, h = x1 - x0, y1 - y0
        if id(obj) in hidden:
            continue
        if h <= THIN and w > MIN_CELL:
            horizontal.append(((y0 + y1) / 2, x0, x1))
        elif w <= THIN and h > MIN_CELL:
            vertical.append(((x0 + x1) / 2, y0, y1))
        elif w > MIN_CELL and h > MIN_CELL and not (w > PAGE_FRAME_SHARE * width and h > PAGE_FRAME_SHARE * height):
            if _is_rectangle(obj):
                horizontal += [(y0, x0, x1), (y1, x0, x1)]
                vertical += [(x0, y0, y1), (x1, y0, y1)]
            else:
                _segments(obj, horizontal, vertical)
    vertical += _rule_columns(horizontal, vertical)
    return horizontal, vertical


def _rule_columns(horizontal, vertical) -> list[tuple[float, float, float]]:
    """Column borders that a table drawn with rules only implies: a browser prints each row's
    rule as one segment a cell, end to end, so where two rules or more are cut at the same places
    into three cells or more, and no border is drawn across them, those places are the columns'
    edges, from the top rule to the bottom."""
    levels: dict[float, list[tuple[float, float]]] = {}
    key = None
    for y, x0, x1 in sorted(horizontal):
        if key is None or y - key > 0.5:
            key = y
        levels.setdefault(key, []).append((x0, x1))
    cuts: list[tuple[list[float], list[float]]] = []  # (the places a rule is cut at, the heights of such rules)
    for y, segments in levels.items():
        segments = sorted(set(segments))
        if len(segments) < 3 or any(abs(b[0] - a[1]) > TOLERANCE for a, b in zip(segments, segments[1:])):
            continue
        places = [segments[0][0], *((a[1] + b[0]) / 2 for a, b in zip(segments, segments[1:])), segments[-1][1]]
        same = next((group for group in cuts if len(group[0]) == len(places)
                     and all(abs(a - b) <= TOLERANCE for a, b in zip(group[0], places))), None)
        if same is None:
            cuts.append((places, [y]))
        else:
            same[1].append(y)
    implied = []
    for places, heights in cuts:
        low, high = min(heights), max(heights)
        drawn = any(places[0] - TOLERANCE <= x <= places[-1] + TOLERANCE and y0 < high and y1 > low for x, y0, y1 in vertical)
        if len(heights) >= 2 and not drawn:
            implied += [(x, low, high) for x in places]
    return implied


def _hidden_fills(paths) -> set[int]:
    """Ids of the filled, unstroked rectangles drawn inside a larger one of their own colour: they
    draw nothing to be seen (a word processor paints each line of a shaded cell's text in the cell's
    colour again), so their edges are no rules, and would cut the cell into one row per line."""
    import pypdfium2.raw as raw

    red, green, blue, alpha = (ctypes.c_uint() for _ in range(4))
    mode, stroke = ctypes.c_int(), ctypes.c_int()
    by_colour: dict[tuple, list] = {}
    for obj, x0, y0, x1, y1 in paths:
        if x1 - x0 <= MIN_CELL or y1 - y0 <= MIN_CELL or not raw.FPDFPath_GetDrawMode(obj, mode, stroke):
            continue
        if mode.value == 0 or not _is_rectangle(obj):
            continue
        if raw.FPDFPageObj_GetFillColor(obj, red, green, blue, alpha) and alpha.value == 255:
            by_colour.setdefault((red.value, green.value, blue.value), []).append((obj, x0, y0, x1, y1, bool(stroke.value)))
    hidden: set[int] = set()
    tile = 50.0  # points: a box is looked for only among the boxes over its lower-left corner's tile
    for boxes in by_colour.values():
        if len(boxes) < 2:
            continue
        boxes.sort(key=lambda box: -(box[3] - box[1]) * (box[4] - box[2]))  # the largest first
        over: dict[tuple[int, int], list[tuple]] = {}
        for obj, x0, y0, x1, y1, stroked in boxes:
            corner = over.get((int((x0 + 0.5) // tile), int((y0 + 0.5) // tile)), [])
            if not stroked and any(a <= x0 + 0.5 and b <= y0 + 0.5 and x1 <= c + 0.5 and y1 <= d + 0.5 for a, b, c, d in corner):
                hidden.add(id(obj))
                continue
            for tx in range(int(x0 // tile), int(x1 // tile) + 1):
                for ty in range(int(y0 // tile), int(y1 // tile) + 1):
                    over.setdefault((tx, ty), []).append((x0, y0, x1, y1))
    return hidden


def _fills(paths) -> list[tuple[float, float, float, float, tuple[int, int, int]]]:
    """(x0, y0, x1, y1, colour) of the filled rectangles among a page's paths: cell shading."""
    import pypdfium2.raw as raw

    red, green, blue, alpha = (ctypes.c_uint() for _ in range(4))
    mode, stroke = ctypes.c_int(), ctypes.c_int()
    fills = []
    for obj, x0, y0, x1, y1 in paths:
        if x1 - x0 <= MIN_CELL or y1 - y0 <= MIN_CELL or not _is_rectangle(obj):
            continue
        if not raw.FPDFPath_GetDrawMode(obj, mode, stroke) or mode.value == 0:
            continue
        if raw.FPDFPageObj_GetFillColor(obj, red, green, blue, alpha) and alpha.value > 0:
            fills.append((x0, y0, x1, y1, (red.value, green.value, blue.value)))
    return fills


def _shade_at(fills, x: float, y: float) -> tuple[int, int, int] | None:
    """The colour of the smallest filled rectangle under a point (the innermost shading), else None."""
    under = [f for f in fills if f[0] <= x <= f[2] and f[1] <= y <= f[3]]
    if not under:
        return None
    colour = min(under, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))[4]
    return None if colour == (255, 255, 255) else colour  # white shading is no shading


def _upright(page, horizontal, vertical, chars, fills):
    """Edges and characters of a page turned by /Rotate, in the coordinates of the page as shown."""
    rotation = page.get_rotation()
    width, height = page.get_size()
    if rotation in (90, 270):
        width, height = height, width  # get_size() gives the page as shown; the content is drawn unturned

    def turn(x: float, y: float) -> tuple[float, float]:
        if rotation == 90:  # shown turned clockwise: the top edge comes to the right
            return y, width - x
        if rotation == 270:
            return height - y, x
        return width - x, height - y

    turned_h, turned_v = [], []
    for y, x0, x1 in horizontal:
        (ax, ay), (bx, by) = turn(x0, y), turn(x1, y)
        _add_edge(turned_h, turned_v, ax, ay, bx, by)
    for x, y0, y1 in vertical:
        (ax, ay), (bx, by) = turn(x, y0), turn(x, y1)
        _add_edge(turned_h, turned_v, ax, ay, bx, by)
    turned_chars = [(c[0], *turn(c[1], c[2]), *c[3:]) for c in chars]
    turned_fills = []
    for x0, y0, x1, y1, colour in fills:
        (ax, ay), (bx, by) = turn(x0, y0), turn(x1, y1)
        turned_fills.append((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by), colour))
    return turned_h, turned_v, turned_chars, turned_fills


def _add_edge(horizontal: list, vertical: list, ax: float, ay: float, bx: float, by: float) -> None:
    if abs(ay - by) < abs(ax - bx):
        horizontal.append(((ay + by) / 2, min(ax, bx), max(ax, bx)))
    else:
        vertical.append(((ax + bx) / 2, min(ay, by), max(ay, by)))


def _is_rectangle(obj) -> bool:
    """A path of one closed rectangle (a cell border or fill), four or five points."""
    import pypdfium2.raw as raw

    count = raw.FPDFPath_CountSegments(obj)
    return 4 <= count <= 5 and all(
        raw.FPDFPathSegment_GetType(raw.FPDFPath_GetPathSegment(obj, i)) != raw.FPDF_SEGMENT_BEZIERTO for i in range(count)
    )


def _segments(obj, horizontal: list, vertical: list) -> None:
    """The straight, axis-parallel segments of a path (one path may draw a whole grid)."""
    import pypdfium2.raw as raw

    count = raw.FPDFPath_CountSegments(obj)
    if count > 2000:
        return  # a drawing, not a table
    matrix = raw.FS_MATRIX()
    if not raw.FPDFPageObj_GetMatrix(obj, ctypes.byref(matrix)):
        return
    x, y = ctypes.c_float(), ctypes.c_float()
    previous = None
    for i in range(count):
        segment = raw.FPDFPath_GetPathSegment(obj, i)
        raw.FPDFPathSegment_GetPoint(segment, x, y)
        point = (matrix.a * x.value + matrix.c * y.value + matrix.e, matrix.b * x.value + matrix.d * y.value + matrix.f)
        kind = raw.FPDFPathSegment_GetType(segment)
        if kind == raw.FPDF_SEGMENT_LINETO and previous is not None:
            (ax, ay), (bx, by) = previous, point
            if abs(ay - by) <= 0.5 and abs(ax - bx) > MIN_CELL:
                horizontal.append(((ay + by) / 2, min(ax, bx), max(ax, bx)))
            elif abs(ax - bx) <= 0.5 and abs(ay - by) > MIN_CELL:
                vertical.append(((ax + bx) / 2, min(ay, by), max(ay, by)))
        previous = point


def _components(horizontal, vertical):
    """Groups of edges that touch each other: each group may be one table's grid."""
    parent = list(range(len(horizontal) + len(vertical)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i, j):
        a, b = find(i), find(j)
        if a != b:
            parent[a] = b

    # A border drawn in pieces end to end (a cell's side, then its padding's) is one line: its
    # pieces join, though a piece may stop short of the rule at its end or of the next piece.
    for offset, edges in ((0, horizontal), (len(horizontal), vertical)):
        order = sorted(range(len(edges)), key=lambda k: edges[k][0])
        lines, line = [], []  # the edges along one line (positions within half a point)
        for k in order:
            if line and edges[k][0] - edges[line[-1]][0] > 0.5:
                lines.append(line)
                line = []
            line.append(k)
        lines.append(line)
        for line in lines:
            line.sort(key=lambda k: edges[k][1])
            reach = None
            for previous, k in zip(line, line[1:]):
                reach = max(edges[previous][2], reach if reach is not None else edges[previous][2])
                if edges[k][1] <= reach + PIECE_GAP:
                    union(offset + previous, offset + k)
                else:
                    reach = None
    for i, (y, hx0, hx1) in enumerate(horizontal):
        for j, (x, vy0, vy1) in enumerate(vertical):
            if hx0 - TOLERANCE <= x <= hx1 + TOLERANCE and vy0 - TOLERANCE <= y <= vy1 + TOLERANCE:
                a, b = find(i), find(len(horizontal) + j)
                if a != b:
                    parent[a] = b
    groups: dict[int, tuple[list, list]] = {}
    for i, edge in enumerate(horizontal):
        groups.setdefault(find(i), ([], []))[0].append(edge)
    for j, edge in enumerate(vertical):
        groups.setdefault(find(len(horizontal) + j), ([], []))[1].append(edge)
    return [group for group in groups.values() if group[0] and group[1]]


def _cluster(values: list[float]) -> list[float]:
    """Distinct positions: values closer than MIN_CELL are one."""
    out: list[float] = []
    for value in sorted(values):
        if not out or value - out[-1] > MIN_CELL:
            out.append(value)
    return out


# ---------------------------------------------------------------- the grid


def _grid_table(horizontal, vertical, chars, bold: Callable[[int], bool] | None = None, fills=()) -> Table | None:
    ys = sorted(_cluster([y for y, _, _ in horizontal]), reverse=True)  # top to bottom
    xs = _cluster([x for x, _, _ in vertical])
    # One row of drawn cells may be a table's header drawn alone, over rows only aligned with it.
    if len(ys) < 2 or len(xs) < 3:
        return None
    inside, indexes = _cells(xs, ys, chars)
    if stacked := _stacked_rows(inside, len(xs) - 1):
        # Rows set one under another in a band drawn without rules between them are rows still.
        ys = sorted([*ys, *stacked], reverse=True)
        horizontal = [*horizontal, *((y, xs[0], xs[-1]) for y in stacked)]
        inside, indexes = _cells(xs, ys, chars)
    rows, cols = len(ys) - 1, len(xs) - 1
    spans = [_row_spans(r, xs, ys, vertical, inside) for r in range(rows)]
    # Whether the grid holds a table is told from its drawn cells alone, before any cell spans
    # down: a chart's bars and gridlines leave most cells empty, and spanning them would fill its rows.
    texts = {key for key, found in inside.items() if any(not c[0].isspace() for c in found)}
    owners: list[set[int]] = [set() for _ in range(rows)]
    for r, c in texts:
        owners[r].add(spans[r][c])
    drawn_filled = sum(1 for cells in owners if len(cells) >= 2)
    if drawn_filled < 1 or (drawn_filled < 2 and sum(1 for cells in owners if cells) > 1):
        return None
    tops = _column_spans(xs, ys, horizontal, texts)
    # A cell takes the bands it spans down (no rule under it) and the columns it spans across;
    # its text stands in its top band, its first column.
    merged: dict[tuple[int, int], list] = {}
    for (r, c), found in inside.items():
        top = tops[r][c]
        merged.setdefault((top, spans[top][c]), []).extend(found)
    grid, weights = [], []
    for r in range(rows):
        grid.append([_cell_text(merged.get((r, c), [])) for c in range(cols)])
        middle = (ys[r] + ys[r + 1]) / 2
        weights.append({text: (*_cell_weight(merged.get((r, c), []), bold), _shade_at(fills, (xs[c] + xs[c + 1]) / 2, middle))
                        for c, text in enumerate(grid[-1]) if text})
    weights = [styles for styles in weights if styles]  # as the grid's rows, once empty ones are dropped
    grid = [row for row in grid if any(row)]
    keep = [c for c in range(cols) if any(row[c] for row in grid)]
    grid, groups = _merged_columns([[row[c] for c in keep] for row in grid])
    columns = [(xs[keep[group[0]]], xs[keep[group[-1]] + 1]) for group in groups]
    filled = sum(1 for row in grid if sum(1 for cell in row if cell) >= 2)
    if not indexes or filled < 1 or (filled < 2 and len(grid) > 1):
        return None
    caption = ""
    while grid and sum(1 for cell in grid[0] if cell) == 1 and is_caption(next(c for c in grid[0] if c)):
        caption = (caption + " " + next(c for c in grid.pop(0) if c)).strip()  # a caption drawn inside the grid
        weights.pop(0)
    if not grid or _is_form(grid):
        return None
    header_rows = _header_rows(grid) if len(grid) > 1 else 1
    if len(grid) > header_rows and bold is not None and not _set_apart(grid, weights, header_rows):
        header_rows = 0
    heights = sorted(ys[i] - ys[i + 1] for i in range(rows))
    shaded = bool(weights) and any(style[2] is not None for style in weights[0].values())  # white is None
    return Table(grid, indexes, min(indexes), caption=caption, header_rows=header_rows, columns=columns,
                 top=ys[0], bottom=ys[-1], left=xs[0], pitch=heights[len(heights) // 2], top_shaded=shaded)


def _cell_weight(chars: list[tuple], bold: Callable[[int], bool] | None) -> tuple[bool | None, float]:
    """Whether a cell's first character is set bold (None: not known), and the size it is set in."""
    visible = [c for c in chars if not c[0].isspace()]
    if not visible:
        return None, 0.0
    first = min(visible, key=lambda c: c[5])
    return (bold(first[5]) if bold is not None else None), first[3]


def _set_apart(grid: list[list[str]], weights: list[dict[str, tuple]], header_rows: int) -> bool:
    """Whether the first row is a header, set apart from the rows of the body: its top-left cell
    is empty (the corner over the row labels), or it differs from most body rows (see
    :func:`_differs`). A first row set like the rows under it ("The meticulous" | "• Further
    information …" over "The responsible" | "• More …") is a row of the table, not its header."""
    if not grid[0][0]:
        return True
    body = range(header_rows, len(grid))
    coded = _coded_columns(grid, weights, body)
    apart = sum(_differs(grid, weights, 0, r, coded) for r in body)
    return apart * 2 >= len(body)


def _coded_columns(grid: list[list[str]], weights: list[dict[str, tuple]], body: range) -> set[int]:
    """Columns whose body rows are each shaded a colour of their own (a colour key: green, blue,
    orange, red): there, the first row's colour is one more of the key, and no header's mark."""
    coded = set()
    for c in range(len(grid[0]) if grid else 0):
        shades = [weights[r][grid[r][c]][2] for r in body if grid[r][c]]
        if len(shades) >= 2 and None not in shades and len(set(shades)) == len(shades):
            coded.add(c)
    return coded


def _differs(grid: list[list[str]], weights: list[dict[str, tuple]], top: int, below: int, coded=frozenset()) -> bool:
    """Whether two rows are set differently: in some column both fill, their cells differ in
    weight, size or shading (a bold header over regular figures, grey cells under a white header;
    not in a ``coded`` column), or the upper holds a label over a figure."""
    for c, (upper, lower) in enumerate(zip(grid[top], grid[below])):
        if not upper or not lower:
            continue
        (upper_bold, upper_size, upper_shade), (bold, size, shade) = weights[top][upper], weights[below][lower]
        if upper_bold != bold or (upper_shade != shade and c not in coded) or abs(upper_size - size) >= SIZE_STEP:
            return True
        if c and _is_figure(lower) and not _is_figure(upper):  # a row label over a number ("1 (most deprived)" over "2") is no header
            return True
    return False


def _is_form(grid: list[list[str]]) -> bool:
    """A form's boxes, not a table: most labels of its first row end with a colon ("Name:", "Date:")."""
    labels = [cell for cell in grid[0] if cell]
    return bool(labels) and sum(cell.rstrip().endswith(":") for cell in labels) * 2 >= len(labels)


def _merged_columns(grid: list[list[str]]) -> tuple[list[list[str]], list[list[int]]]:
    """Neighbouring grid columns that no row fills both of are one column: a cell's shading or
    padding drawn with its own edges splits a column in two, its header on one side, its values
    on the other. Returns the grid and, for each of its columns, the columns it was made of."""
    if not grid:
        return grid, []
    columns = [[row[c] for row in grid] for c in range(len(grid[0]))]
    merged, groups = [columns[0]], [[0]]
    for index, column in enumerate(columns[1:], start=1):
        if not any(a and b for a, b in zip(merged[-1], column)):
            merged[-1] = [a or b for a, b in zip(merged[-1], column)]
            groups[-1].append(index)
        else:
            merged.append(column)
            groups.append([index])
    return [list(row) for row in zip(*merged)], groups


def _cells(xs: list[float], ys: list[float], chars) -> tuple[dict[tuple[int, int], list[tuple]], set[int]]:
    """The characters of each grid cell (row band, column), by their centre, and all their indexes."""
    rows, cols = len(ys) - 1, len(xs) - 1
    inside: dict[tuple[int, int], list[tuple]] = {}
    indexes = set()
    for char in chars:
        x, y, size = char[1], char[2], char[3]
        cx, cy = x + 0.25 * size, y + 0.3 * size
        if not (xs[0] <= cx <= xs[-1] and ys[-1] <= cy <= ys[0]):
            continue
        r = next(i for i in range(rows) if ys[i + 1] <= cy <= ys[i])
        c = next(i for i in range(cols) if xs[i] <= cx <= xs[i + 1])
        inside.setdefault((r, c), []).append(char)
        indexes.add(char[5])
    return inside, indexes


def _stacked_rows(inside: dict[tuple[int, int], list[tuple]], cols: int) -> list[float]:
    """Where a band drawn as one holds rows one under another: its label cell holds several
    lines, and the cells beside it hold values (figures, short words) one a line, each level
    with a line of the label and apart from it ("- mild" | "Yes", "- substantial" | "Yes" under "Cognitive
    impairment:"). Returns the heights between those lines, where rules would part them."""
    bands: dict[int, dict[int, list[list[tuple]]]] = {}
    for (r, c), found in inside.items():
        lines = _text_lines([char for char in found if not char[0].isspace()])
        if lines:
            bands.setdefault(r, {})[c] = lines
    cuts: list[float] = []
    for cells in bands.values():
        first = min(cells)
        labels, others = cells[first], [lines for c, lines in cells.items() if c != first]
        if len(labels) < 2 or not others or max(len(lines) for lines in others) < 2:
            continue
        baselines = [line[0][2] for line in labels]
        size = max(char[3] for line in labels for char in line)

        def level(line) -> bool:
            return any(abs(line[0][2] - b) <= 0.3 * size for b in baselines)

        def value(line) -> bool:
            text = _line_text(line)
            return _is_figure(text) or (len(_words(line)) == 1 and len(text) <= 4)  # "Yes", "F/P"

        label_chars = [char for line in labels for char in line]
        if all(level(line) and value(line) and _gutter(label_chars, line) for lines in others for line in lines):
            # A label line beginning in lower case is the wrapped rest of the one above, not a row.
            cuts += [(a + b) / 2 + 0.3 * size for a, b, line in zip(baselines, baselines[1:], labels[1:])
                     if not _line_text(line)[:1].islower()]
    return cuts


def _line_text(line: list[tuple]) -> str:
    """A line's visible characters left to right, without spaces."""
    return "".join(char[0] for char in sorted(line, key=lambda char: char[1]) if not char[0].isspace())


def _column_spans(xs: list[float], ys: list[float], horizontal, filled: set[tuple[int, int]]) -> list[list[int]]:
    """For each row band and column, the band whose cell it belongs to. Between two rules drawn
    across a column, its bands are one cell when at most half of them hold text: a label spanning
    rows, set level with their middle ("Section 1: Personal details" beside "Demographic details"
    over "Personal history/status"). A column whose bands mostly hold text of their own is
    unruled, one cell a band ("65-74 years" over "75-84 years" beside ruled figures)."""
    rules: list[list[tuple[float, float]]] = [[] for _ in ys]
    rising = ys[::-1]  # ys run top to bottom
    for y, x0, x1 in horizontal:
        at = bisect.bisect_left(rising, y)
        nearest = min((i for i in (at - 1, at) if 0 <= i < len(rising)), key=lambda i: abs(rising[i] - y))
        if abs(rising[nearest] - y) <= MIN_CELL:
            rules[len(ys) - 1 - nearest].append((x0, x1))
    bands = len(ys) - 1
    tops = [list(range(len(xs) - 1)) for _ in range(bands)]
    for c, middle in enumerate((a + b) / 2 for a, b in zip(xs, xs[1:])):
        ruled = [0] + [r for r in range(1, bands) if any(x0 - TOLERANCE <= middle <= x1 + TOLERANCE for x0, x1 in rules[r])]
        for first, end in zip(ruled, [*ruled[1:], bands]):
            spanned = end - first > 1 and 2 * sum((r, c) in filled for r in range(first, end)) <= end - first
            for r in range(first, end):
                tops[r][c] = first if spanned else r
    return tops


def _row_spans(r: int, xs: list[float], ys: list[float], vertical, inside=None) -> list[int]:
    """For each column of row band ``r``, the column whose cell it belongs to (itself, or one to
    its left). With no border at a column's edge, the cells on either side are one, unless both
    hold text set apart by a gutter there (figures under their columns in a band drawn without
    inner borders); text running across the edge is one cell's."""
    middle = (ys[r] + ys[r + 1]) / 2
    owner = [0]
    held = list(inside.get((r, 0), [])) if inside is not None else []  # the text of the cell being spanned
    for c in range(1, len(xs) - 1):
        border = any(abs(x - xs[c]) <= TOLERANCE and y0 - TOLERANCE <= middle <= y1 + TOLERANCE for x, y0, y1 in vertical)
        if inside is not None:
            here = inside.get((r, c), [])
            if not border and _gutter(held, here):
                border = True
            held = list(here) if border else held + here
        owner.append(c if border else owner[-1])
    return owner


def _gutter(left: list[tuple], right: list[tuple]) -> bool:
    """Whether two neighbouring cells both hold text, and on every line they share, a gap wider
    than a word space parts the one's last character from the other's first."""
    left = [c for c in left if not c[0].isspace()]
    right = [c for c in right if not c[0].isspace()]
    if not left or not right:
        return False
    for line in _text_lines(left):
        size = max(c[3] for c in line)
        across = [c for c in right if abs(c[2] - line[0][2]) <= 0.3 * size]
        if across:
            end = max(c[1] for c in line) + AVERAGE_WIDTH * size
            if min(c[1] for c in across) - end < WORD_GAP * size:
                return False
    return True


def _header_rows(grid: list[list[str]]) -> int:
    """How many rows the header takes: the first, and the rows under it that only continue its
    labels (an empty first cell, no figures), as a header wrapped over several ruled lines."""
    count = 1
    for row in grid[1:-1]:
        if row[0] or any(_is_figure(cell) for cell in row):
            break
        count += 1
    return count


def _is_figure(cell: str) -> bool:
    return bool(re.fullmatch(r"[-+(]?[£$€]?\d[\d,.]*%?\)?|[-–]", cell.strip()))


def _cell_text(chars: list[tuple]) -> str:
    """A cell's characters line by line (top to bottom), each line in pdfium's order, which holds its spaces."""
    if not chars:
        return ""
    size = max(c[3] for c in chars) or 1.0
    lines: list[list[tuple]] = []
    for char in sorted(chars, key=lambda c: (-c[2], c[5])):
        if lines and abs(lines[-1][0][2] - char[2]) <= 0.5 * size:
            lines[-1].append(char)
        else:
            lines.append([char])
    return clean_cell(" ".join("".join(c[0] for c in sorted(line, key=lambda c: c[5])) for line in lines))
