"""Tables in PDF pages, found from the ruling lines and cell shading they are drawn with.

A table in a report PDF (Word, InDesign, a browser's print) is drawn: its cell borders are thin
lines or rectangles, and shaded cells are filled rectangles. Their horizontal and vertical edges
form a grid; each grid cell holds the characters whose centre lies in it, and a row band without
a border at a column edge joins the cells on either side (a spanned cell). A grid counts as a
table only when at least two of its rows have text in at least two cells: a chart's frame or a
boxed paragraph does not.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass

from .layout import clean_cell, is_caption, table_row_text

TOLERANCE = 2.0  # points: edges closer than this are one edge
THIN = 2.5  # points: a path thinner than this is a line
MIN_CELL = 4.0  # points: grid lines closer than this are one line
PAGE_FRAME_SHARE = 0.9  # a rectangle covering most of the page is a frame, not a cell


@dataclass
class Table:
    """One table: its cells (rows × columns, "" for empty), which characters it took, where it starts."""

    rows: list[list[str]]
    char_indexes: set[int]
    first_char: int
    caption: str = ""
    header_rows: int = 1

    def header(self) -> list[str]:
        """Column headers: the header rows' cells of each column joined ("Workforce size in 2020 – WTEs")."""
        columns = len(self.rows[0]) if self.rows else 0
        return [" ".join(row[c] for row in self.rows[: self.header_rows] if row[c]) for c in range(columns)]

    def row_texts(self, header: list[str] | None = None) -> list[str]:
        """Each body row as "Header: value; …" (``header``: another part's, for a table continued).

        A row holding only a label ("Age") names the group of the rows under it, and goes before
        their own labels ("Age, 25-44 years"), so each row reads whole on its own.
        """
        header = header or self.header()
        texts, group, label = [], "", ""
        for row in self.rows[self.header_rows :]:
            if row[0] and not any(row[1:]) and len(row) > 1:
                group, label = row[0], ""
                texts.append(row[0])
                continue
            # An empty first cell under a label is that label's cell spanning rows.
            label = row[0] or label
            cells = [f"{group}, {label}" if group and label else label, *row[1:]]
            if text := table_row_text(header, cells):
                texts.append(text)
        return texts


def has_grid(page) -> bool:
    """Whether the page draws enough edges to hold a table grid (cheap: no characters read)."""
    horizontal, vertical = _edges(page)
    return len(horizontal) >= 3 and len(vertical) >= 3


def find_tables(page, chars: list) -> list[Table]:
    """The tables of a page. ``chars`` are (char, x, y, size, weight, index) of its characters."""
    horizontal, vertical = _edges(page)
    if len(horizontal) < 3 or len(vertical) < 3:
        return []
    tables: list[Table] = []
    taken: set[int] = set()
    header: Table | None = None  # a one-row grid (a header drawn apart from its body)
    for hs, vs in sorted(_components(horizontal, vertical), key=lambda group: -max(y for y, _, _ in group[0])):
        table = _grid_table(hs, vs, [c for c in chars if c[5] not in taken])
        if table is None:
            continue
        taken |= table.char_indexes
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


def _opens_with_section(table: Table) -> bool:
    """The first row is a label alone ("Age"), not a header: the table's header was drawn apart."""
    first = table.rows[0]
    return bool(first[0]) and not any(first[1:])


# ---------------------------------------------------------------- edges


def _edges(page) -> tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    """Horizontal (y, x0, x1) and vertical (x, y0, y1) edges drawn on the page."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    horizontal, vertical = [], []
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    get_object, get_type, path_type = raw.FPDFPage_GetObject, raw.FPDFPageObj_GetType, raw.FPDF_PAGEOBJ_PATH
    for index in range(raw.FPDFPage_CountObjects(page.raw)):
        obj = get_object(page.raw, index)
        if get_type(obj) != path_type:
            continue
        if not raw.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
            continue
        x0, y0, x1, y1 = left.value, bottom.value, right.value, top.value
        w, h = x1 - x0, y1 - y0
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
    return horizontal, vertical


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


def _grid_table(horizontal, vertical, chars) -> Table | None:
    ys = sorted(_cluster([y for y, _, _ in horizontal]), reverse=True)  # top to bottom
    xs = _cluster([x for x, _, _ in vertical])
    if len(ys) < 3 or len(xs) < 3:
        return None
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
    spans = [_row_spans(r, xs, ys, vertical) for r in range(rows)]
    grid = []
    for r in range(rows):
        merged: dict[int, list] = {}
        for c in range(cols):
            merged.setdefault(spans[r][c], []).extend(inside.get((r, c), []))
        grid.append([_cell_text(merged.get(c, [])) if spans[r][c] == c else "" for c in range(cols)])
    grid = _merged_columns(_without_empty_lines(grid))
    filled = sum(1 for row in grid if sum(1 for cell in row if cell) >= 2)
    if not indexes or filled < 1 or (filled < 2 and len(grid) > 1):
        return None
    caption = ""
    while grid and sum(1 for cell in grid[0] if cell) == 1 and is_caption(next(c for c in grid[0] if c)):
        caption = (caption + " " + next(c for c in grid.pop(0) if c)).strip()  # a caption drawn inside the grid
    if not grid or _is_form(grid):
        return None
    return Table(grid, indexes, min(indexes), caption=caption, header_rows=_header_rows(grid) if len(grid) > 1 else 1)


def _is_form(grid: list[list[str]]) -> bool:
    """A form's boxes, not a table: most labels of its first row end with a colon ("Name:", "Date:")."""
    labels = [cell for cell in grid[0] if cell]
    return bool(labels) and sum(cell.rstrip().endswith(":") for cell in labels) * 2 >= len(labels)


def _merged_columns(grid: list[list[str]]) -> list[list[str]]:
    """Neighbouring grid columns that no row fills both of are one column: a cell's shading or
    padding drawn with its own edges splits a column in two, its header on one side, its values on the other."""
    if not grid:
        return grid
    columns = [[row[c] for row in grid] for c in range(len(grid[0]))]
    merged = [columns[0]]
    for column in columns[1:]:
        if not any(a and b for a, b in zip(merged[-1], column)):
            merged[-1] = [a or b for a, b in zip(merged[-1], column)]
        else:
            merged.append(column)
    return [list(row) for row in zip(*merged)]


def _row_spans(r: int, xs: list[float], ys: list[float], vertical) -> list[int]:
    """For each column of row band ``r``, the column whose cell it belongs to (itself, or one to its left)."""
    middle = (ys[r] + ys[r + 1]) / 2
    owner = [0]
    for c in range(1, len(xs) - 1):
        border = any(abs(x - xs[c]) <= TOLERANCE and y0 - TOLERANCE <= middle <= y1 + TOLERANCE for x, y0, y1 in vertical)
        owner.append(c if border else owner[-1])
    return owner


def _without_empty_lines(grid: list[list[str]]) -> list[list[str]]:
    """The grid without rows, and columns, that are empty throughout (a cell's padding, a border's double line)."""
    grid = [row for row in grid if any(row)]
    keep = [c for c in range(len(grid[0]) if grid else 0) if any(row[c] for row in grid)]
    return [[row[c] for c in keep] for row in grid]


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
