"""A PNG bar chart drawn with the standard library only (zlib + struct): pure, deterministic, no I/O.

    png = bar_chart_png([Bar(120, "Po", "16.11"), Bar(0, "Út", "17.11"), ...], title="Slova za týden")

The image is RGB, 8 bits per channel, one IDAT chunk, filter type 0 (None) on every row: the smallest
valid PNG encoder there is, and plenty for a flat-colour chart (zlib squeezes the runs; a 800 × 480 chart
is a few kilobytes). Text is drawn with a built-in bitmap font (`FONT`, 5 px wide cells, 12 rows: accents,
a 7-row body and descenders) scaled by whole pixels; it covers digits, a few signs and the letters the
weekly report uses (Czech weekday abbreviations and the title). `text_width` / `supported` let callers
check a text before drawing; an unknown character raises `ValueError` rather than drawing garbage.

Layout, top to bottom: the title, the value of each bar above it, the bars (scaled so the largest fills
the plot area; a zero is a thin grey stub, so an empty day is visible as such), the baseline, and under
each bar its label and sublabel, centred.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

RGB = tuple[int, int, int]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"

BACKGROUND: Final[RGB] = (255, 255, 255)
BAR: Final[RGB] = (52, 120, 214)
BAR_TOP: Final[RGB] = (29, 78, 160)
EMPTY_BAR: Final[RGB] = (205, 210, 218)
GRID: Final[RGB] = (234, 237, 242)
BASELINE: Final[RGB] = (150, 158, 170)
TEXT: Final[RGB] = (33, 37, 45)
MUTED: Final[RGB] = (110, 118, 130)

# --- the bitmap font ---------------------------------------------------------------------------------
#
# A glyph is 12 rows: 0-1 accents over capitals, 2 a gap, 3-9 the body (capitals are 7 rows tall, small
# letters 5, rows 5-9; accents over small letters sit in rows 2-3), 9 the baseline, 10-11 descenders.
# Bodies are written as 7 rows; '#' is ink. Widths vary (a '.' is narrower than a 'W').

GLYPH_ROWS: Final = 12
_BODY_TOP: Final = 3

_BODIES: Final[dict[str, tuple[str, ...]]] = {
    "0": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    ".": ("..", "..", "..", "..", "..", "##", "##"),
    ",": ("..", "..", "..", "..", "..", "##", "##"),
    "-": ("....", "....", "....", "####", "....", "....", "...."),
    "–": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    "×": (".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"),
    " ": ("...", "...", "...", "...", "...", "...", "..."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "N": ("#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#"),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "a": (".....", ".....", ".###.", "....#", ".####", "#...#", ".####"),
    "d": ("....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"),
    "e": (".....", ".....", ".###.", "#...#", "#####", "#....", ".###."),
    "i": ("...", ".#.", "...", "##.", ".#.", ".#.", "###"),
    "l": (".##.", "..#.", "..#.", "..#.", "..#.", "..#.", ".###"),
    "n": (".....", ".....", "####.", "#...#", "#...#", "#...#", "#...#"),
    "o": (".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."),
    "s": (".....", ".....", ".####", "#....", ".###.", "....#", "####."),
    "t": (".#...", ".#...", "####.", ".#...", ".#...", ".#..#", "..##."),
    "v": (".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "y": (".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"),
    "z": (".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"),
}
_DESCENDERS: Final[dict[str, tuple[str, str]]] = {
    "y": ("....#", ".###."),
    ",": (".#", "#."),
}
_ACUTE: Final = ("...#.", "..#..")
_CARON: Final = (".#.#.", "..#..")
# Accented letters: (base letter, accent); the accent goes over capitals in rows 0-1, over small letters in
# rows 2-3 (a small letter's body starts at row 5).
_ACCENTED: Final[dict[str, tuple[str, tuple[str, str]]]] = {
    "Č": ("C", _CARON),
    "Ú": ("U", _ACUTE),
    "á": ("a", _ACUTE),
    "ý": ("y", _ACUTE),
    "í": ("i", ("..#", ".#.")),
}


def _build_font() -> dict[str, tuple[str, ...]]:
    font: dict[str, tuple[str, ...]] = {}
    for char, body in _BODIES.items():
        width = len(body[0])
        blank = "." * width
        descender = _DESCENDERS.get(char, (blank, blank))
        font[char] = (blank,) * _BODY_TOP + body + descender
    for char, (base, accent) in _ACCENTED.items():
        rows = list(font[base])
        width = len(rows[0])
        top = 0 if base.isupper() else 2
        if base == "i":  # the accent replaces the dot
            rows[_BODY_TOP + 1] = "." * width
        for offset, line in enumerate(accent):
            rows[top + offset] = line.ljust(width, ".")[:width]
        font[char] = tuple(rows)
    return font


FONT: Final[dict[str, tuple[str, ...]]] = _build_font()


def supported(text: str) -> bool:
    """Whether every character of `text` has a glyph."""
    return all(char in FONT for char in text)


def text_width(text: str, scale: int) -> int:
    """Width in pixels of `text` drawn at `scale` (one blank font pixel between glyphs)."""
    if not text:
        return 0
    _check(text)
    return (sum(len(FONT[char][0]) for char in text) + len(text) - 1) * scale


def text_height(scale: int) -> int:
    return GLYPH_ROWS * scale


def _check(text: str) -> None:
    missing = sorted({char for char in text if char not in FONT})
    if missing:
        raise ValueError(f"no glyph for {''.join(missing)!r}; the chart font has {''.join(sorted(FONT))!r}")


# --- the canvas -----------------------------------------------------------------------------------------


class Canvas:
    """An RGB image in memory, drawn on with filled rectangles and bitmap text (clipped to the image)."""

    def __init__(self, width: int, height: int, background: RGB = BACKGROUND) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"an image needs a positive size, not {width}x{height}")
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def fill(self, x0: int, y0: int, x1: int, y1: int, color: RGB) -> None:
        """Fill the rectangle [x0, x1) × [y0, y1)."""
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1 or y0 >= y1:
            return
        run = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(run)] = run

    def pixel(self, x: int, y: int) -> RGB:
        start = (y * self.width + x) * 3
        red, green, blue = self.pixels[start : start + 3]
        return red, green, blue

    def text(self, x: int, y: int, text: str, *, scale: int, color: RGB) -> None:
        """Draw `text` with its top-left corner (the top of the accent rows) at (x, y)."""
        _check(text)
        for char in text:
            glyph = FONT[char]
            for row, line in enumerate(glyph):
                column = 0
                while column < len(line):
                    if line[column] != "#":
                        column += 1
                        continue
                    end = column
                    while end < len(line) and line[end] == "#":
                        end += 1
                    self.fill(
                        x + column * scale, y + row * scale, x + end * scale, y + (row + 1) * scale, color
                    )
                    column = end
            x += (len(glyph[0]) + 1) * scale

    def centred_text(self, centre_x: int, y: int, text: str, *, scale: int, color: RGB) -> None:
        self.text(centre_x - text_width(text, scale) // 2, y, text, scale=scale, color=color)

    def png(self) -> bytes:
        return encode_png(self.width, self.height, bytes(self.pixels))


# --- PNG ------------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """A PNG of `rgb` (width × height × 3 bytes, rows top to bottom)."""
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError(f"expected {stride * height} bytes of RGB, got {len(rgb)}")
    # Each scanline is prefixed with its filter type: 0 (None).
    raw = b"".join(b"\x00" + rgb[row * stride : (row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


# --- the bar chart --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    value: int
    label: str = ""
    sublabel: str = ""


@dataclass(frozen=True)
class ChartLayout:
    width: int = 800
    height: int = 480
    margin: int = 40
    title_scale: int = 4
    value_scale: int = 3
    label_scale: int = 3
    sublabel_scale: int = 2
    bar_share: float = 0.62  # of each bar's slot
    gridlines: int = 4

    @property
    def title_top(self) -> int:
        return 20

    @property
    def plot_top(self) -> int:
        # Room under the title for the tallest bar's value label.
        return self.title_top + text_height(self.title_scale) + text_height(self.value_scale) + 8

    @property
    def baseline(self) -> int:
        below = text_height(self.label_scale) + text_height(self.sublabel_scale) + 24
        return self.height - below


def bar_chart_png(bars: Sequence[Bar], *, title: str = "", layout: ChartLayout | None = None) -> bytes:
    """The PNG of a bar chart of non-negative integer values (see the module docstring)."""
    return draw_bar_chart(bars, title=title, layout=layout).png()


def draw_bar_chart(bars: Sequence[Bar], *, title: str = "", layout: ChartLayout | None = None) -> Canvas:
    layout = layout or ChartLayout()
    if not bars:
        raise ValueError("a bar chart needs at least one bar")
    if any(bar.value < 0 for bar in bars):
        raise ValueError("bar values must be non-negative")
    for text in (title, *(bar.label for bar in bars), *(bar.sublabel for bar in bars)):
        _check(text)
    canvas = Canvas(layout.width, layout.height)
    left, right = layout.margin, layout.width - layout.margin
    top, baseline = layout.plot_top, layout.baseline
    if baseline - top < 10 or right - left < len(bars):
        raise ValueError("the image is too small for this chart")

    if title:
        canvas.text(left, layout.title_top, title, scale=layout.title_scale, color=TEXT)
    for line in range(1, layout.gridlines + 1):
        y = baseline - (baseline - top) * line // layout.gridlines
        canvas.fill(left, y, right, y + 1, GRID)

    highest = max(bar.value for bar in bars)
    slot = (right - left) / len(bars)
    bar_width = max(1, round(slot * layout.bar_share))
    value_height = text_height(layout.value_scale)
    for index, bar in enumerate(bars):
        centre = round(left + slot * (index + 0.5))
        x0, x1 = centre - bar_width // 2, centre - bar_width // 2 + bar_width
        if bar.value > 0:
            height = max(3, round((baseline - top) * bar.value / highest))
            canvas.fill(x0, baseline - height, x1, baseline, BAR)
            canvas.fill(x0, baseline - height, x1, baseline - height + 3, BAR_TOP)
            value_color = TEXT
        else:
            height = 3
            canvas.fill(x0, baseline - height, x1, baseline, EMPTY_BAR)
            value_color = MUTED
        value = str(bar.value)
        if text_width(value, layout.value_scale) <= slot:
            canvas.centred_text(
                centre,
                baseline - height - value_height - 2,
                value,
                scale=layout.value_scale,
                color=value_color,
            )
        label_top = baseline + 10
        if bar.label:
            canvas.centred_text(centre, label_top, bar.label, scale=layout.label_scale, color=TEXT)
        if bar.sublabel:
            canvas.centred_text(
                centre,
                label_top + text_height(layout.label_scale) + 2,
                bar.sublabel,
                scale=layout.sublabel_scale,
                color=MUTED,
            )
    canvas.fill(left, baseline, right, baseline + 2, BASELINE)
    return canvas
