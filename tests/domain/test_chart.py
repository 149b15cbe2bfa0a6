"""The stdlib PNG bar chart: a valid PNG (chunks, CRCs, IHDR, zlib data), what it draws, the font."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from mluv.domain.chart import (
    BACKGROUND,
    BAR,
    BAR_TOP,
    EMPTY_BAR,
    FONT,
    GLYPH_ROWS,
    PNG_SIGNATURE,
    Bar,
    Canvas,
    ChartLayout,
    bar_chart_png,
    draw_bar_chart,
    encode_png,
    supported,
    text_width,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "weekly-report-example.png"


@dataclass
class Png:
    width: int
    height: int
    chunks: list[bytes]  # chunk types in order
    rows: list[bytes]  # decoded RGB scanlines (filter bytes removed)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        r, g, b = self.rows[y][x * 3 : x * 3 + 3]
        return r, g, b


def read_png(data: bytes) -> Png:
    """Parse and decode an 8-bit truecolour, non-interlaced PNG whose scanlines use filter 0."""
    assert data[:8] == PNG_SIGNATURE
    offset, kinds, idat = 8, [], b""
    width = height = 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        kinds.append(kind)
        if kind == b"IHDR":
            width, height, depth, colour, compression, filtering, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, colour, compression, filtering, interlace) == (8, 2, 0, 0, 0)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    assert offset == len(data), "trailing bytes after the last chunk"
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    raw = zlib.decompress(idat)
    stride = 1 + width * 3
    assert len(raw) == height * stride
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0, "filter type 0 expected"
        rows.append(line[1:])
    return Png(width, height, kinds, rows)


WEEK = [
    Bar(120, "Po", "16.11"),
    Bar(0, "Út", "17.11"),
    Bar(45, "St", "18.11"),
    Bar(310, "Čt", "19.11"),
    Bar(88, "Pá", "20.11"),
    Bar(0, "So", "21.11"),
    Bar(7, "Ne", "22.11"),
]


def test_the_chart_is_a_valid_png_of_the_layout_size() -> None:
    png = read_png(bar_chart_png(WEEK, title="Slova za týden"))
    layout = ChartLayout()
    assert (png.width, png.height) == (layout.width, layout.height)
    assert png.chunks == [b"IHDR", b"IDAT", b"IEND"]
    assert png.pixel(0, 0) == BACKGROUND


def test_the_chart_is_deterministic_and_small() -> None:
    first, second = bar_chart_png(WEEK, title="Slova za týden"), bar_chart_png(WEEK, title="Slova za týden")
    assert first == second
    assert len(first) < 20_000


def _bar_top(png: Png, x: int, layout: ChartLayout) -> int | None:
    """The first row from the top of the plot where column x has a bar's colour."""
    for y in range(layout.plot_top - 5, layout.baseline):
        if png.pixel(x, y) in (BAR, BAR_TOP):
            return y
    return None


def test_bars_are_proportional_and_zero_days_are_stubs() -> None:
    layout = ChartLayout()
    png = read_png(bar_chart_png(WEEK, title="Slova za týden"))
    slot = (layout.width - 2 * layout.margin) / len(WEEK)
    centres = [round(layout.margin + slot * (i + 0.5)) for i in range(len(WEEK))]
    tops = [_bar_top(png, x, layout) for x in centres]
    plot = layout.baseline - layout.plot_top
    assert tops[3] == layout.plot_top  # the highest bar fills the plot
    assert tops[1] is None and tops[5] is None  # no bar colour on empty days...
    assert png.pixel(centres[1], layout.baseline - 1) == EMPTY_BAR  # ...but a grey stub
    for index in (0, 2, 4, 6):
        top = tops[index]
        assert top is not None
        expected = max(3, round(plot * WEEK[index].value / 310))
        assert layout.baseline - top == expected
    assert png.pixel(centres[3], layout.baseline - 10) == BAR


def test_all_zero_week_draws_no_bars() -> None:
    layout = ChartLayout()
    png = read_png(bar_chart_png([Bar(0, "Po"), Bar(0, "Út")]))
    colours = {png.pixel(x, y) for y in range(layout.plot_top, layout.baseline) for x in range(png.width)}
    assert BAR not in colours and EMPTY_BAR in colours


def test_text_is_drawn_where_asked() -> None:
    canvas = Canvas(60, 40)
    canvas.text(2, 2, "1", scale=2, color=(0, 0, 0))
    inked = {(x, y) for y in range(40) for x in range(60) if canvas.pixel(x, y) == (0, 0, 0)}
    assert inked
    assert min(x for x, _ in inked) >= 2 and max(x for x, _ in inked) < 2 + text_width("1", 2)
    assert max(y for _, y in inked) < 2 + GLYPH_ROWS * 2


def test_the_font_covers_the_weekly_report_and_refuses_the_rest() -> None:
    for text in ("Slova za týden", "Po Út St Čt Pá So Ne", "0123456789", "16.11–22.11", "45%"):
        assert supported(text), text
    assert not supported("Привет")
    with pytest.raises(ValueError, match="no glyph"):
        bar_chart_png([Bar(1, "Пн")])
    for char, rows in FONT.items():
        assert len(rows) == GLYPH_ROWS, char
        assert len({len(row) for row in rows}) == 1, char


@pytest.mark.parametrize(
    ("bars", "message"),
    [([], "at least one bar"), ([Bar(-1)], "non-negative")],
)
def test_invalid_charts_are_refused(bars: list[Bar], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draw_bar_chart(bars)


def test_encode_png_checks_the_pixel_buffer() -> None:
    with pytest.raises(ValueError, match="bytes of RGB"):
        encode_png(2, 2, b"\x00" * 11)
    png = read_png(encode_png(2, 1, bytes([1, 2, 3, 4, 5, 6])))
    assert (png.pixel(0, 0), png.pixel(1, 0)) == ((1, 2, 3), (4, 5, 6))


def test_the_documented_example_is_a_valid_chart() -> None:
    # Regenerate with: .venv/bin/python -m tests.domain.test_reports
    png = read_png(EXAMPLE.read_bytes())
    assert (png.width, png.height) == (ChartLayout().width, ChartLayout().height)
