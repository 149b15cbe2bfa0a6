"""The matplotlib bar chart: a PNG of the layout's size, deterministic, what it draws, and its font
(Cyrillic and Czech drawn with no missing glyph). PNGs are read back with Pillow (matplotlib's own
dependency)."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from PIL import Image

from mluv.domain.chart import (
    BACKGROUND,
    BAR,
    EMPTY_BAR,
    TEXT,
    Bar,
    ChartLayout,
    bar_chart_png,
    draw_bar_chart,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "weekly-report-example.png"


def read_png(data: bytes) -> Image.Image:
    """The decoded PNG as RGB (raises if `data` is not a PNG)."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def chart_texts(bars: list[Bar], *, title: str = "") -> list[str]:
    """Every text the chart draws: the title first, then the values and labels."""
    figure = draw_bar_chart(bars, title=title)
    return [text.get_text() for text in figure.texts] + [
        text.get_text() for axes in figure.axes for text in axes.texts
    ]


def pixel(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = image.getpixel((x, y))  # type: ignore[misc]
    return red, green, blue


WEEKS = {
    "ru": (
        "Слова за неделю",
        [
            Bar(120, "Пн", "16.11"),
            Bar(0, "Вт", "17.11"),
            Bar(45, "Ср", "18.11"),
            Bar(310, "Чт", "19.11"),
            Bar(88, "Пт", "20.11"),
            Bar(0, "Сб", "21.11"),
            Bar(7, "Вс", "22.11"),
        ],
    ),
    "uk": (
        "Слова за тиждень",
        [
            Bar(120, "Пн", "16.11"),
            Bar(0, "Вт", "17.11"),
            Bar(45, "Ср", "18.11"),
            Bar(310, "Чт", "19.11"),
            Bar(88, "Пт", "20.11"),
            Bar(0, "Сб", "21.11"),
            Bar(7, "Нд", "22.11"),
        ],
    ),
}
LANGUAGES = sorted(WEEKS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_chart_is_a_png_of_the_layout_size_without_metadata(language: str) -> None:
    title, bars = WEEKS[language]
    data = bar_chart_png(bars, title=title)
    image = read_png(data)
    layout = ChartLayout()
    assert (image.width, image.height) == (layout.width, layout.height)
    assert pixel(image, 0, 0) == BACKGROUND
    assert b"tEXt" not in data and b"iTXt" not in data and b"tIME" not in data


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_chart_is_deterministic_and_small(language: str) -> None:
    title, bars = WEEKS[language]
    first, second = bar_chart_png(bars, title=title), bar_chart_png(bars, title=title)
    assert first == second
    assert len(first) < 60_000


def _bar_rows(image: Image.Image, x: int, layout: ChartLayout, colour: tuple[int, int, int]) -> list[int]:
    """The rows of the plot area where column x has `colour`."""
    return [y for y in range(layout.top - 5, layout.baseline + 1) if pixel(image, x, y) == colour]


@pytest.mark.parametrize("language", LANGUAGES)
def test_bars_are_proportional_and_empty_days_are_grey_stubs(language: str) -> None:
    title, bars = WEEKS[language]
    layout = ChartLayout()
    image = read_png(bar_chart_png(bars, title=title))
    highest = max(bar.value for bar in bars)
    for index, bar in enumerate(bars):
        x = layout.centre(index, len(bars))
        rows = _bar_rows(image, x, layout, BAR)
        if bar.value == 0:
            assert rows == []  # no bar colour on an empty day...
            stub = _bar_rows(image, x, layout, EMPTY_BAR)
            assert stub and max(stub) >= layout.baseline - 3  # ...but a thin grey stub on the baseline
            assert layout.baseline - min(stub) <= 0.05 * layout.plot_height
            continue
        expected = layout.plot_height * bar.value / highest
        assert layout.baseline - min(rows) == pytest.approx(expected, abs=2), bar
    assert min(_bar_rows(image, layout.centre(3, len(bars)), layout, BAR)) == pytest.approx(layout.top, abs=1)


def test_an_all_empty_week_draws_only_stubs() -> None:
    layout = ChartLayout()
    image = read_png(bar_chart_png([Bar(0, "Пн"), Bar(0, "Вт")], title="Слова за неделю"))
    colours = {pixel(image, x, y) for y in range(layout.top, layout.baseline) for x in range(image.width)}
    assert BAR not in colours and EMPTY_BAR in colours


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_chart_draws_its_title_values_and_labels(language: str) -> None:
    title, bars = WEEKS[language]
    texts = chart_texts(bars, title=title)
    assert texts[0] == title
    for bar in bars:
        assert {str(bar.value), bar.label, bar.sublabel} <= set(texts)
    image = read_png(bar_chart_png(bars, title=title))
    band = {pixel(image, x, y) for y in range(15, 50) for x in range(40, 300)}
    assert TEXT in band  # the title is inked at the top left


@pytest.mark.parametrize(
    "text",
    [
        "Слова за неделю Пн Вт Ср Чт Пт Сб Вс",
        "Слова за тиждень Нд ї є і ґ Ї Є І Ґ",
        "Slova za týden Čt Út ěščřžůň",
    ],
)
def test_the_font_covers_cyrillic_and_czech(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of each glyph missing from the font
        bar_chart_png([Bar(1, text[:2], text[-5:])], title=text)


def test_a_glyph_missing_from_the_font_is_noticed() -> None:
    # The check above would catch a font without Cyrillic: a character DejaVu Sans lacks does warn.
    with pytest.warns(UserWarning, match="missing from font"):
        bar_chart_png([Bar(1, "漢")])


def test_text_is_not_read_as_mathtext() -> None:
    bars = [Bar(1, "$x^$", "$5")]
    assert {"$x^$", "$5"} <= set(chart_texts(bars, title="$ title $"))
    read_png(bar_chart_png(bars, title="$ title $"))


@pytest.mark.parametrize(
    ("bars", "message"),
    [([], "at least one bar"), ([Bar(-1)], "non-negative")],
)
def test_invalid_charts_are_refused(bars: list[Bar], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        draw_bar_chart(bars)


def test_the_documented_example_is_a_chart_of_the_layout_size() -> None:
    # Regenerate with: .venv/bin/python -m tests.domain.test_reports
    image = read_png(EXAMPLE.read_bytes())
    assert (image.width, image.height) == (ChartLayout().width, ChartLayout().height)
