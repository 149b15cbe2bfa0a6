"""A PNG bar chart drawn with matplotlib (Agg): pure, deterministic, any script DejaVu Sans covers.

    png = bar_chart_png([Bar(120, "Пн", "16.11"), Bar(0, "Вт", "17.11"), ...], title="Слова за неделю")

**Drawing.** A `matplotlib.figure.Figure` rendered by `FigureCanvasAgg`, never pyplot: no global figure
registry, no backend switch, nothing shared between calls, so charts can be drawn from any thread. Text
uses the DejaVu Sans files bundled with matplotlib, loaded by path (`font_path`), so a
system font of the same name cannot change the output; DejaVu Sans covers Latin with Czech diacritics and
Cyrillic (Russian and Ukrainian: і, ї, є, ґ). Texts are drawn as they are: no mathtext (`$` is a dollar).

**Determinism.** The same bars, title and layout give the same bytes: a fixed figure size and position (no
tight layout), and the PNG is written without metadata (no Software version, no timestamp).

**Layout** (`ChartLayout`, 800 × 480 by default), top to bottom: the title, the value of each bar above it,
the bars (scaled so the largest fills the plot area; a zero is a thin grey stub, so an empty day is visible
as such), the baseline, and under each bar its label and, smaller, its sublabel, centred. Faint horizontal
gridlines, no y axis: each bar carries its value.

The only I/O is matplotlib's own (its font files; its font cache on first import). matplotlib is
imported on the first chart, not with this module: importing it takes about a second.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RGB = tuple[int, int, int]

BACKGROUND: Final[RGB] = (255, 255, 255)
BAR: Final[RGB] = (52, 120, 214)
EMPTY_BAR: Final[RGB] = (205, 210, 218)
GRID: Final[RGB] = (234, 237, 242)
BASELINE: Final[RGB] = (150, 158, 170)
TEXT: Final[RGB] = (33, 37, 45)
MUTED: Final[RGB] = (110, 118, 130)

FONT_FILE: Final = "DejaVuSans.ttf"  # in matplotlib's data directory, fonts/ttf
BOLD_FONT_FILE: Final = "DejaVuSans-Bold.ttf"


def font_path(name: str) -> Path:
    """A font file bundled with matplotlib."""
    # Imported on the first chart: about a second the bot and the workers need not pay at start.
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def _color(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass(frozen=True)
class Bar:
    value: int
    label: str = ""
    sublabel: str = ""


@dataclass(frozen=True)
class ChartLayout:
    width: int = 800  # pixels
    height: int = 480
    dpi: int = 100
    # The plot area in pixels from the image's edges: room for the title and values above, labels below.
    left: int = 40
    right: int = 40
    top: int = 96
    bottom: int = 84
    title_size: float = 20  # points
    value_size: float = 15
    label_size: float = 15
    sublabel_size: float = 11
    bar_share: float = 0.62  # of each bar's slot
    stub_share: float = 0.02  # an empty bar's height, of the plot's
    gridlines: int = 4

    @property
    def plot_height(self) -> int:
        return self.height - self.top - self.bottom

    @property
    def baseline(self) -> int:
        """The row of the bars' base, counted from the image's top."""
        return self.height - self.bottom

    def centre(self, index: int, count: int) -> int:
        """The column of bar `index` of `count`, counted from the image's left."""
        slot = (self.width - self.left - self.right) / count
        return round(self.left + slot * (index + 0.5))


def bar_chart_png(bars: Sequence[Bar], *, title: str = "", layout: ChartLayout | None = None) -> bytes:
    """The PNG of a bar chart of non-negative integer values (see the module docstring)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # on first use (see font_path)

    figure = draw_bar_chart(bars, title=title, layout=layout)
    buffer = io.BytesIO()
    # A None value drops that metadata key: no matplotlib version in the PNG to change its bytes.
    FigureCanvasAgg(figure).print_figure(
        buffer,
        format="png",
        dpi=figure.dpi,
        facecolor=_color(BACKGROUND),
        bbox_inches=None,
        metadata={"Software": None},
    )
    return buffer.getvalue()


def draw_bar_chart(bars: Sequence[Bar], *, title: str = "", layout: ChartLayout | None = None) -> Figure:
    """The chart as a matplotlib figure (not yet rendered); `bar_chart_png` renders it."""
    from matplotlib.figure import Figure  # on first use (see font_path)
    from matplotlib.font_manager import FontProperties

    layout = layout or ChartLayout()
    if not bars:
        raise ValueError("a bar chart needs at least one bar")
    if any(bar.value < 0 for bar in bars):
        raise ValueError("bar values must be non-negative")
    if layout.plot_height < 10 or layout.width - layout.left - layout.right < len(bars):
        raise ValueError("the image is too small for this chart")
    regular, bold = (
        FontProperties(fname=font_path(FONT_FILE)),
        FontProperties(fname=font_path(BOLD_FONT_FILE)),
    )

    figure = Figure(figsize=(layout.width / layout.dpi, layout.height / layout.dpi), dpi=layout.dpi)
    figure.patch.set_facecolor(_color(BACKGROUND))
    axes = figure.add_axes(
        (
            layout.left / layout.width,
            layout.bottom / layout.height,
            (layout.width - layout.left - layout.right) / layout.width,
            layout.plot_height / layout.height,
        )
    )
    count = len(bars)
    highest = max(bar.value for bar in bars)
    top = highest or 1  # an all-empty week still has a scale for its stubs
    axes.set_xlim(-0.5, count - 0.5)
    axes.set_ylim(0, top)
    axes.set_axis_off()
    axes.set_facecolor(_color(BACKGROUND))

    for line in range(1, layout.gridlines + 1):
        axes.axhline(top * line / layout.gridlines, color=_color(GRID), linewidth=1, zorder=0)
    stub = top * layout.stub_share
    positions = list(range(count))
    heights = [bar.value if bar.value > 0 else stub for bar in bars]
    colors = [_color(BAR if bar.value > 0 else EMPTY_BAR) for bar in bars]
    # Not antialiased: a bar's edges keep its exact colour, which the tests read back.
    axes.bar(positions, heights, width=layout.bar_share, color=colors, antialiased=False, zorder=2)
    axes.axhline(0, color=_color(BASELINE), linewidth=2, zorder=3)

    if title:
        figure.text(
            layout.left / layout.width,
            1 - 20 / layout.height,
            title,
            fontproperties=bold,
            fontsize=layout.title_size,
            color=_color(TEXT),
            ha="left",
            va="top",
            parse_math=False,
        )
    for position, bar, height in zip(positions, bars, heights, strict=True):
        axes.annotate(
            str(bar.value),
            xy=(position, height),
            xytext=(0, 4),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontproperties=regular,
            fontsize=layout.value_size,
            color=_color(TEXT if bar.value > 0 else MUTED),
            annotation_clip=False,
            parse_math=False,
        )
        for text, offset, size, color in (
            (bar.label, -8, layout.label_size, TEXT),
            (bar.sublabel, -8 - layout.label_size * 1.4, layout.sublabel_size, MUTED),
        ):
            if text:
                axes.annotate(
                    text,
                    xy=(position, 0),
                    xytext=(0, offset),
                    textcoords="offset points",
                    ha="center",
                    va="top",
                    fontproperties=regular,
                    fontsize=size,
                    color=_color(color),
                    annotation_clip=False,
                    parse_math=False,
                )
    return figure
