"""Charts as inline SVG, drawn on the server: ``bar_chart``, ``line_chart`` and
``stacked_bar_chart``.

Each returns ``markupsafe.Markup`` to drop into a template as ``{{ chart }}``.
There is no JavaScript, no external file and no ``style=`` attribute: colours,
fonts and sizes are SVG presentation attributes, which a strict
Content-Security-Policy does not block, so a chart looks right with no CSS at
all. ``templates/partials/chart_styles.html`` adds optional niceties (a size
cap, hover and focus marks) through the ``chart`` classes.

Every text that comes in (titles, labels, hrefs, colours) is escaped. The same
input always gives the same string: coordinates are rounded to one decimal and
nothing depends on dict order, time or chance.

The title is not drawn: pages show their own heading above a chart. With
``role="img"``, screen readers read the title and the ``<desc>``, a plain-text
summary of every value, instead of the drawing's parts; the bars' links still
work by mouse and keyboard, and a page should keep a table of the same numbers.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import NamedTuple, Union
from urllib.parse import urlsplit

from markupsafe import Markup, escape

Number = Union[Decimal, int, float]

FONT_FAMILY = "'Noto Sans CJK SC', sans-serif"
FONT_SIZE = 13
INK, MUTED, GRID = "#1f2328", "#5b6470", "#d8dde3"
BAR, HIGHLIGHT = "#7ea6d4", "#a4161a"
#: Series colours: dark enough to read on white and far apart in lightness and
#: hue; line charts add a marker shape and a dash pattern so print in grey works.
PALETTE = ("#0b5cad", "#a4161a", "#1a7f37", "#9a6700", "#6f42c1", "#5b6470")
DASHES = (None, "6 3", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "triangle", "diamond")
EMPTY_TEXT = "暂无数据"

ROW, BAR_THICKNESS = 28, 18  # px per row of a bar chart, and of its bar
BAR_TOP = (ROW - BAR_THICKNESS) / 2


class Bar(NamedTuple):
    """One bar: ``Bar("桃镇", Decimal("97.5"), href="/units/…", note="第1名")``."""

    label: str
    value: Number
    href: str | None = None
    note: str | None = None


class Series(NamedTuple):
    """One line: a name and one value (or None for a gap) per period."""

    name: str
    values: Sequence[Number | None]


class Stack(NamedTuple):
    """One stacked bar: a label and one count per segment."""

    label: str
    counts: Sequence[Number]
    href: str | None = None


# --- text, numbers and tags ---------------------------------------------------------

# Characters XML 1.0 forbids; a stray one pasted into a unit name would otherwise
# make the whole SVG ill-formed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: object) -> str:
    return _NOT_XML.sub("", str(text))


def _number(value: Number) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a chart value must be a finite number, not {value!r}")
    return number


def _fmt(value: Number) -> str:
    """97.5, 100, 0.33: at most two decimals, rounded half up, no trailing zeros."""
    with localcontext(rounding=ROUND_HALF_UP):
        text = format(Decimal(str(value)), ".2f").rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _px(x: float) -> str:
    # One decimal of a pixel is invisible and keeps the output short and stable.
    text = f"{x:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _text_width(text: str, size: float = FONT_SIZE) -> float:
    """A server-side guess of a text's width: CJK is one em wide, the rest ~0.6 em."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else 0.6 * size for c in text)


def _fit(text: str, room: float) -> str:
    """The text, cut with "…" to fit ``room`` pixels."""
    if _text_width(text) <= room:
        return text
    while text and _text_width(text + "…") > room:
        text = text[:-1]
    return text + "…"


def _href(href: str | None) -> str | None:
    # Escaping stops markup, not a javascript: URL; links here only ever go to pages.
    if href is None or href == "":
        return None
    if urlsplit(href).scheme not in ("", "http", "https"):
        raise ValueError(f"a chart link must be a web address, not {href!r}")
    return href


def _attrs(attributes: dict[str, object]) -> str:
    parts = []
    for name, value in attributes.items():
        if value is None:
            continue
        name = name.rstrip("_").replace("_", "-")  # class_ -> class, font_size -> font-size
        shown = _px(value) if isinstance(value, (int, float)) else _clean(value)
        parts.append(f' {name}="{escape(shown)}"')
    return "".join(parts)


def _tag(name: str, content: str | None = None, **attributes: object) -> str:
    """An element; ``content`` is markup already built here, never raw input."""
    if content is None:
        return f"<{name}{_attrs(attributes)}/>"
    return f"<{name}{_attrs(attributes)}>{content}</{name}>"


def _text(x: float, y: float, text: str, **attributes: object) -> str:
    return _tag("text", str(escape(_clean(text))), x=x, y=y, **attributes)


def _svg(title: str, width: int, height: float, body: Sequence[str], desc: str = "") -> Markup:
    """The outer element: scales to its container, named for screen readers."""
    title = _clean(title)
    head = _tag("title", str(escape(title))) + (_tag("desc", str(escape(_clean(desc)))) if desc else "")
    return Markup(
        _tag(
            "svg",
            head + "".join(body),
            xmlns="http://www.w3.org/2000/svg",
            class_="chart",
            role="img",
            aria_label=title,
            viewBox=f"0 0 {_px(width)} {_px(height)}",
            width="100%",
            font_family=FONT_FAMILY,
            font_size=FONT_SIZE,
            fill=INK,
        )
    )


def _empty(title: str, width: int) -> Markup:
    return _svg(title, width, 48, [_text(width / 2, 29, EMPTY_TEXT, text_anchor="middle", fill=MUTED)])


def _linked(href: str | None, content: str) -> str:
    href = _href(href)
    return _tag("a", content, href=href) if href else content


# --- scales -------------------------------------------------------------------------


def _nice_step(raw: float, whole: bool = False) -> tuple[float, int]:
    """A round step (1, 2 or 5 times a power of ten) near ``raw``, and its decimals."""
    if raw <= 0:
        raw = 1.0
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    mantissa = 1 if fraction <= 1.5 else 2 if fraction <= 3 else 5 if fraction <= 7 else 10
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    if whole and exponent < 0:  # counts: never a tick at 0.2 件
        return 1.0, 0
    return mantissa * 10.0**exponent, max(0, -exponent)


def _baseline(lo: float, hi: float) -> float:
    """Where the axis starts when the caller does not say.

    Zero when values are spread out or all equal, so bars stay honest; just below
    the smallest value when they cluster (scores of 92 to 98 out of 100), else every
    bar would look the same."""
    if lo == 0 or (lo > 0 and (lo == hi or hi - lo > hi / 2)):
        return 0.0
    # A whole step below the smallest value, so the shortest bar still shows.
    step, _ = _nice_step(((hi - lo) or abs(lo)) / 2)
    return (math.floor(lo / step) - 1) * step


class _Axis(NamedTuple):
    start: float
    stop: float
    ticks: list[float]
    decimals: int

    def share(self, value: float) -> float:
        """How far along the axis a value lies, 0 to 1 (clamped)."""
        return min(1.0, max(0.0, (value - self.start) / (self.stop - self.start)))

    def label(self, tick: float) -> str:
        text = f"{tick:.{self.decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")  # 0 and 1 rather than 0.0 and 1.0
        return "0" if text == "-0" else text


def _axis(values: Sequence[float], lower: Number | None, upper: Number | None, whole: bool = False) -> _Axis:
    lo, hi = min(values), max(values)
    start = _baseline(lo, hi) if lower is None else _number(lower)
    stop = hi if upper is None else _number(upper)
    if stop <= start:  # all values equal the baseline: any positive span avoids dividing by zero
        stop = start + (abs(start) or 1.0)
    step, decimals = _nice_step((stop - start) / 5, whole)
    if upper is None:
        stop = math.ceil(stop / step) * step
    first, last = math.ceil(start / step - 1e-9), math.floor(stop / step + 1e-9)
    ticks = [k * step for k in range(first, min(last, first + 20) + 1)]
    return _Axis(start, stop, ticks, decimals)


# --- rows of horizontal bars ---------------------------------------------------------


def _columns(labels: Iterable[str], ends: Iterable[str], width: int) -> tuple[float, float, float]:
    """Room for the labels on the left, and where the bars start and may end: the
    texts after the bars (values, totals) need room on the right."""
    label_room = min(max(_text_width(_clean(text)) for text in labels), width * 0.3)
    x0 = label_room + 12
    x1 = width - max(_text_width(_clean(text)) for text in ends) - 12
    return label_room, x0, max(x1, x0 + width * 0.3)  # very long texts overflow rather than squash the bars


def _row_label(label: str, room: float, x: float, y: float, weight: str | None = None) -> str:
    """A row's label, right-aligned at x; when cut to fit, the full name is its tooltip."""
    full = _clean(label)
    shown = _fit(full, room)
    tooltip = _tag("title", str(escape(full))) if shown != full else ""
    return tooltip + _text(x, y, shown, class_="label", text_anchor="end", font_weight=weight)


# --- bar chart ----------------------------------------------------------------------


def bar_chart(
    bars: Iterable[Bar | tuple],
    *,
    title: str,
    unit_label: str = "分",
    min_value: Number | None = None,
    max_value: Number | None = None,
    highlight: str | None = None,
    reference: tuple[str, Number] | None = None,
    width: int = 640,
) -> Markup:
    """Horizontal bars, one row per item, in the order given.

    ``bars``: ``Bar`` or ``(label, value[, href[, note]])``. A bar with an href is a
    link (label and bar). ``highlight`` names the label drawn in the accent colour;
    ``reference`` is a dashed line such as ``("全县平均", 95.2)``. The axis runs from
    ``min_value`` (default: 0, or a round number just below the smallest value when
    the values cluster, as scores near 100 do) to ``max_value`` (default: a round
    number at or above the largest value); values outside are clamped."""
    rows = [bar if isinstance(bar, Bar) else Bar(*bar) for bar in bars]
    if not rows:
        return _empty(title, width)
    values = [_number(bar.value) for bar in rows]
    ref = (reference[0], _number(reference[1])) if reference else None
    axis = _axis(values + ([ref[1]] if ref else []), min_value, max_value)

    def value_text(bar: Bar) -> str:
        return f"{_fmt(bar.value)}{unit_label}" + (f" {bar.note}" if bar.note else "")

    label_room, x0, x1 = _columns([bar.label for bar in rows], map(value_text, rows), width)
    top = 24.0 if reference else 8.0
    bottom = top + ROW * len(rows)

    body = _grid_columns(axis, x0, x1, top, bottom)
    for i, (bar, value) in enumerate(zip(rows, values)):
        y = top + i * ROW
        mid = y + ROW / 2
        marked = highlight is not None and _clean(bar.label) == _clean(highlight)
        length = axis.share(value) * (x1 - x0)
        weight = "bold" if marked else None
        parts = [
            _row_label(bar.label, label_room, x0 - 6, mid + 4.5, weight),
            _tag(
                "rect",
                class_="bar highlight" if marked else "bar",
                x=x0,
                y=y + BAR_TOP,
                width=length,
                height=BAR_THICKNESS,
                fill=HIGHLIGHT if marked else BAR,
            ),
            _value_label(x0 + length + 5, mid + 4.5, f"{_fmt(bar.value)}{unit_label}", bar.note, weight),
        ]
        body.append(_linked(bar.href, _tag("g", "".join(parts), class_="row")))
    if ref:
        body.append(_reference_line(*ref, axis, x0, x1, top, bottom, unit_label))
    desc = "；".join(f"{bar.label} {value_text(bar)}" for bar in rows)
    return _svg(title, width, bottom + 24, body, desc)


def _value_label(x: float, y: float, value: str, note: str | None, weight: str | None) -> str:
    content = str(escape(_clean(value)))
    if note:
        # dx, not a leading space: SVG renderers may drop whitespace at a tspan's edge.
        content += _tag("tspan", str(escape(_clean(note))), dx=5, fill=MUTED, font_weight="normal")
    return _tag("text", content, class_="value", x=x, y=y, font_weight=weight)


def _grid_columns(axis: _Axis, x0: float, x1: float, top: float, bottom: float) -> list[str]:
    """Vertical gridlines with tick labels underneath, and the axis line at the start."""
    parts = []
    for tick in axis.ticks:
        x = x0 + axis.share(tick) * (x1 - x0)
        parts.append(_tag("line", class_="grid", x1=x, y1=top, x2=x, y2=bottom, stroke=GRID))
        label = axis.label(tick)
        parts.append(_text(x, bottom + 16, label, class_="tick", text_anchor="middle", fill=MUTED, font_size=11))
    parts.append(_tag("line", class_="axis", x1=x0, y1=top, x2=x0, y2=bottom, stroke=MUTED))
    return parts


def _reference_line(
    name: str, value: float, axis: _Axis, x0: float, x1: float, top: float, bottom: float, unit_label: str
) -> str:
    x = x0 + axis.share(value) * (x1 - x0)
    # The label sits on the side of the line with more room.
    anchor, dx = ("start", 4) if x < (x0 + x1) / 2 else ("end", -4)
    return _tag(
        "g",
        _tag("line", x1=x, y1=top - 4, x2=x, y2=bottom, stroke=INK, stroke_width=1.5, stroke_dasharray="5 3")
        + _text(x + dx, top - 8, f"{name} {_fmt(value)}{unit_label}", text_anchor=anchor, font_size=12),
        class_="reference",
    )


# --- line chart ---------------------------------------------------------------------


def line_chart(
    series: Iterable[Series | tuple],
    *,
    title: str,
    periods: Sequence[str],
    unit_label: str = "分",
    min_value: Number | None = None,
    max_value: Number | None = None,
    width: int = 640,
    height: int = 260,
) -> Markup:
    """A trend: one line per ``Series(name, values)`` (or ``(name, values)``), one value
    per period in ``periods`` order; None leaves a gap in the line. A legend is drawn
    when there is more than one series. The y axis is chosen as for ``bar_chart``."""
    lines = [line if isinstance(line, Series) else Series(*line) for line in series]
    for line in lines:
        if len(line.values) != len(periods):
            raise ValueError(f"series {line.name!r} has {len(line.values)} values for {len(periods)} periods")
    known = [_number(v) for line in lines for v in line.values if v is not None]
    if not periods or not known:
        return _empty(title, width)
    axis = _axis(known, min_value, max_value)

    legend = len(lines) > 1
    top = 40.0 if legend else 20.0
    bottom = height - 28.0
    x0 = max(_text_width(axis.label(t), 11) for t in axis.ticks) + 14
    x1 = width - 12.0
    band = (x1 - x0) / len(periods)

    def x_of(i: int) -> float:
        return x0 + band * (i + 0.5)  # band centres leave room for the end labels

    def y_of(value: float) -> float:
        return bottom - axis.share(value) * (bottom - top)

    body = []
    for tick in axis.ticks:
        y = y_of(tick)
        body.append(_tag("line", class_="grid", x1=x0, y1=y, x2=x1, y2=y, stroke=GRID))
        label = axis.label(tick)
        body.append(_text(x0 - 6, y + 4, label, class_="tick", text_anchor="end", fill=MUTED, font_size=11))
    body.append(_text(x0 - 6, top - 12, unit_label, class_="unit", text_anchor="end", fill=MUTED, font_size=11))
    body.append(_tag("line", class_="axis", x1=x0, y1=bottom, x2=x1, y2=bottom, stroke=MUTED))
    for i, period in enumerate(periods):
        body.append(_text(x_of(i), bottom + 18, _fit(_clean(period), band), class_="period", text_anchor="middle"))

    for n, line in enumerate(lines):
        color, dash, marker = PALETTE[n % len(PALETTE)], DASHES[n % len(DASHES)], MARKERS[n % len(MARKERS)]
        points = [None if v is None else (x_of(i), y_of(_number(v)), v) for i, v in enumerate(line.values)]
        parts = [_tag("path", d=_path(points), fill="none", stroke=color, stroke_width=2, stroke_dasharray=dash)]
        label_dy = -8 if n % 2 == 0 else 17  # alternate above / below so two lines' labels rarely collide
        for point in points:
            if point is not None:
                x, y, v = point
                parts.append(_marker(marker, x, y, color))
                parts.append(
                    _text(x, y + label_dy, _fmt(v), class_="value", text_anchor="middle", fill=color, font_size=11)
                )
        body.append(_tag("g", "".join(parts), class_=f"series series-{n}"))
    if legend:
        body.append(_legend([line.name for line in lines], PALETTE, x0, 16.0, lines=True))
    desc = "；".join(
        f"{line.name}：" + "，".join(f"{p} {'无' if v is None else _fmt(v)}" for p, v in zip(periods, line.values))
        for line in lines
    )
    return _svg(title, width, float(height), body, desc)


def _path(points: Sequence[tuple[float, float, Number] | None]) -> str:
    """Path data through the points; a None starts a new piece (a gap, not a zero)."""
    commands, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{_px(point[0])} {_px(point[1])}")
        pen_down = True
    return " ".join(commands)


def _marker(shape: str, x: float, y: float, color: str) -> str:
    r = 4.0
    if shape == "circle":
        return _tag("circle", class_="point", cx=x, cy=y, r=r, fill=color)
    outline = {
        "square": [(-r, -r), (r, -r), (r, r), (-r, r)],
        "triangle": [(0, -r - 1), (r + 1, r), (-r - 1, r)],
        "diamond": [(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)],
    }[shape]
    d = "M" + " L".join(f"{_px(x + dx)} {_px(y + dy)}" for dx, dy in outline) + " Z"
    return _tag("path", class_="point", d=d, fill=color)


def _legend(names: Sequence[str], colors: Sequence[str], x: float, y: float, lines: bool = False) -> str:
    """A row of swatches and names: line samples with markers for series, squares for segments."""
    parts = []
    for n, name in enumerate(names):
        color = colors[n % len(colors)]
        if lines:
            dash = DASHES[n % len(DASHES)]
            sample = dict(x1=x, y1=y - 4, x2=x + 22, y2=y - 4)
            parts.append(_tag("line", **sample, stroke=color, stroke_width=2, stroke_dasharray=dash))
            parts.append(_marker(MARKERS[n % len(MARKERS)], x + 11, y - 4, color))
            x += 28
        else:
            parts.append(_tag("rect", x=x, y=y - 10, width=12, height=12, fill=color))
            x += 16
        name = _clean(name)
        parts.append(_text(x, y, name))
        x += _text_width(name) + 18
    return _tag("g", "".join(parts), class_="legend")


# --- stacked bar chart --------------------------------------------------------------


def stacked_bar_chart(
    groups: Iterable[Stack | tuple],
    *,
    title: str,
    segments: Sequence[str],
    unit_label: str = "件",
    colors: Sequence[str] | None = None,
    width: int = 640,
) -> Markup:
    """Per group, one horizontal bar split into ``segments`` (e.g. 在办, 逾期, 本期销号:
    they should not overlap, since the pieces add up), with the total at the end and a
    legend on top. ``groups``: ``Stack`` or ``(label, counts[, href])``; ``colors``
    default to the palette (blue, red, green, …)."""
    rows = [group if isinstance(group, Stack) else Stack(*group) for group in groups]
    if not rows:
        return _empty(title, width)
    palette = tuple(colors) if colors else PALETTE
    counts = []
    for group in rows:
        if len(group.counts) != len(segments):
            raise ValueError(f"group {group.label!r} has {len(group.counts)} counts for {len(segments)} segments")
        counts.append([max(0.0, _number(c)) for c in group.counts])  # a negative piece cannot be drawn
    axis = _axis([sum(c) for c in counts], 0, None, whole=True)

    def total_text(values: Sequence[float]) -> str:
        return f"{_fmt(sum(values))}{unit_label}"

    label_room, x0, x1 = _columns([group.label for group in rows], map(total_text, counts), width)
    top = 32.0
    bottom = top + ROW * len(rows)

    body = _grid_columns(axis, x0, x1, top, bottom)
    for i, (group, values) in enumerate(zip(rows, counts)):
        y = top + i * ROW
        mid = y + ROW / 2
        parts = [_row_label(group.label, label_room, x0 - 6, mid + 4.5)]
        x = x0
        for n, (segment, value) in enumerate(zip(segments, values)):
            length = axis.share(value) * (x1 - x0)
            if length <= 0:
                continue
            color = palette[n % len(palette)]
            piece = _tag("title", str(escape(f"{_clean(segment)} {_fmt(value)}{_clean(unit_label)}")))
            rect = dict(x=x, y=y + BAR_TOP, width=length, height=BAR_THICKNESS, fill=color)
            parts.append(_tag("rect", piece, class_=f"segment segment-{n}", **rect))
            count = _fmt(value)
            if _text_width(count, 11) + 6 <= length:  # the count inside its piece, when it fits
                parts.append(_text(x + length / 2, mid + 4, count, text_anchor="middle", fill="#fff", font_size=11))
            x += length
        parts.append(_text(x + 5, mid + 4.5, total_text(values), class_="value"))
        body.append(_linked(group.href, _tag("g", "".join(parts), class_="row")))
    body.append(_legend(segments, palette, x0, 18.5))
    desc = "；".join(
        f"{group.label}：" + "，".join(f"{s} {_fmt(v)}{unit_label}" for s, v in zip(segments, values))
        for group, values in zip(rows, counts)
    )
    return _svg(title, width, bottom + 24, body, desc)

