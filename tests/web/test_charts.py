"""app.charts: SVG charts that are well-formed XML, escaped, accessible and stable."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from app.charts import EMPTY_TEXT, HIGHLIGHT, Bar, Series, Stack, bar_chart, line_chart, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
NASTY = "<script>alert(1)</script> & 甲\"乙'"


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))


def elements(root: ET.Element, tag: str, cls: str | None = None) -> list[ET.Element]:
    found = root.iter(SVG + tag)
    return [e for e in found if cls is None or cls in e.get("class", "").split()]


def texts(root: ET.Element, cls: str) -> list[str]:
    return ["".join(e.itertext()) for e in elements(root, "text", cls)]


def scores() -> list[Bar]:
    return [
        Bar("桃镇", Decimal("97.5"), "/units/1", "第1名"),
        Bar("李家沟镇", Decimal("96"), "/units/2", "第2名"),
        Bar("王庄乡", 92.25, None, "↓0.5"),
    ]


# --- what every chart has -----------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        lambda: bar_chart(scores(), title="乡镇得分"),
        lambda: line_chart([Series("桃镇", [97, 98])], title="乡镇得分", periods=["2025Q4", "2026Q1"]),
        lambda: stacked_bar_chart([Stack("城关", [1, 2, 3])], title="乡镇得分", segments=["在办", "逾期", "销号"]),
        lambda: bar_chart([], title="乡镇得分"),
    ],
)
def test_every_chart_is_an_accessible_svg_that_scales(chart):
    root = parse(chart())
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert root.get("aria-label") == "乡镇得分"
    assert root.find(SVG + "title").text == "乡镇得分"
    assert root.get("width") == "100%"
    assert root.get("viewBox").startswith("0 0 ")
    assert root.get("font-family") == "'Noto Sans CJK SC', sans-serif"
    # No script, no inline style, no outside file: safe under a strict CSP.
    source = str(chart())
    assert "<script" not in source and "style=" not in source and "url(" not in source


def test_the_same_input_gives_the_same_string():
    assert bar_chart(scores(), title="得分") == bar_chart(scores(), title="得分")
    series = [Series("桃镇", [97, None, 98]), Series("平均", [95, 96, 96.5])]
    periods = ["2025Q4", "2026Q1", "2026Q2"]
    assert line_chart(series, title="趋势", periods=periods) == line_chart(series, title="趋势", periods=periods)
    # Decimal, int and float of the same value draw the same chart.
    assert bar_chart([("甲", Decimal("97.50")), ("乙", 90)], title="得分") == bar_chart(
        [("甲", 97.5), ("乙", Decimal(90))], title="得分"
    )


def test_charts_drop_into_an_autoescaping_template_unescaped():
    env = Environment(autoescape=True)
    html = env.from_string("<div>{{ chart }}</div>").render(chart=bar_chart(scores(), title="得分"))
    assert "<svg " in html and "&lt;svg" not in html


def test_the_style_partial_renders():
    env = Environment(loader=FileSystemLoader(Path(__file__).resolve().parents[2] / "templates"), autoescape=True)
    html = env.get_template("partials/chart_styles.html").render()
    assert html.strip().startswith("<style>") and "svg.chart" in html


# --- escaping -----------------------------------------------------------------------


def test_labels_titles_notes_and_hrefs_come_out_as_text():
    chart = bar_chart(
        [Bar(NASTY, 90, "/units?a=1&b=<x>", NASTY), ("A&B", 95)],
        title=NASTY,
        unit_label="<分>",
        reference=(NASTY, 92),
    )
    source = str(chart)
    assert "<script>" not in source and "<x>" not in source
    root = parse(chart)
    assert root.find(SVG + "title").text == NASTY
    assert root.get("aria-label") == NASTY
    assert texts(root, "label")[1] == "A&B"
    assert NASTY in "".join(texts(root, "label")) + "".join(t.text or "" for t in elements(root, "title"))
    assert texts(root, "value")[0] == "90<分>" + NASTY
    assert elements(root, "a")[0].get("href") == "/units?a=1&b=<x>"
    assert not list(root.iter("script")) and not list(root.iter(SVG + "script"))


def test_line_and_stacked_charts_escape_names_and_periods():
    line = parse(line_chart([Series(NASTY, [1, 2]), Series("A&B", [2, 3])], title="t", periods=["<p>", "&q"]))
    assert texts(line, "period") == ["<p>", "&q"]
    legend = elements(line, "g", "legend")[0]
    assert [t.text for t in elements(legend, "text")] == [NASTY, "A&B"]
    stacked = parse(stacked_bar_chart([Stack("<b>&", [1, 1], "/z?a=1&b=2")], title="t", segments=["<i>", "&"]))
    assert texts(stacked, "label") == ["<b>&"]
    assert elements(stacked, "a")[0].get("href") == "/z?a=1&b=2"
    assert [t.text for t in elements(elements(stacked, "g", "legend")[0], "text")] == ["<i>", "&"]


def test_a_javascript_link_is_refused():
    with pytest.raises(ValueError):
        bar_chart([Bar("甲", 1, "javascript:alert(1)")], title="t")
    with pytest.raises(ValueError):
        stacked_bar_chart([Stack("甲", [1], " JavaScript:alert(1)")], title="t", segments=["a"])


def test_characters_xml_forbids_are_dropped():
    root = parse(bar_chart([("桃\x00镇\x1b", 1)], title="得\x0b分"))
    assert texts(root, "label") == ["桃镇"]
    assert root.get("aria-label") == "得分"


# --- bar chart ----------------------------------------------------------------------


def test_one_bar_per_item_in_the_given_order_with_value_labels_and_notes():
    root = parse(bar_chart(scores(), title="得分"))
    assert len(elements(root, "rect", "bar")) == 3
    assert texts(root, "label") == ["桃镇", "李家沟镇", "王庄乡"]
    assert texts(root, "value") == ["97.5分第1名", "96分第2名", "92.25分↓0.5"]


def test_bar_widths_are_proportional_to_the_values_from_the_baseline():
    root = parse(bar_chart([("甲", 100), ("乙", 50), ("丙", Decimal("25"))], title="t", min_value=0, max_value=100))
    widths = [float(r.get("width")) for r in elements(root, "rect", "bar")]
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1)
    assert widths[2] == pytest.approx(widths[0] / 4, abs=0.1)
    # With a baseline of 90, a 95 is half as long as a 100.
    root = parse(bar_chart([("甲", 100), ("乙", 95)], title="t", min_value=90, max_value=100))
    widths = [float(r.get("width")) for r in elements(root, "rect", "bar")]
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.1)


def test_clustered_scores_start_the_axis_below_the_smallest_not_at_zero():
    root = parse(bar_chart([("甲", 97.5), ("乙", 92.25)], title="t", max_value=100))
    ticks = [float(t) for t in texts(root, "tick")]
    assert 0 < ticks[0] < 92.25 and ticks[-1] == 100
    widths = [float(r.get("width")) for r in elements(root, "rect", "bar")]
    assert widths[1] > 0 and widths[0] > 2 * widths[1]
    assert len(elements(root, "line", "grid")) == len(ticks) >= 3


def test_spread_out_values_start_at_zero():
    root = parse(bar_chart([("甲", 10), ("乙", 2)], title="t"))
    assert texts(root, "tick")[0] == "0"


def test_links_wrap_the_label_and_the_bar():
    root = parse(bar_chart(scores(), title="得分"))
    links = elements(root, "a")
    assert [a.get("href") for a in links] == ["/units/1", "/units/2"]
    assert texts(links[0], "label") == ["桃镇"] and len(elements(links[0], "rect", "bar")) == 1
    # 王庄乡 has no href and is not a link.
    assert "王庄乡" not in "".join("".join(a.itertext()) for a in links)


def test_the_highlighted_bar_and_the_reference_line():
    root = parse(bar_chart(scores(), title="得分", highlight="李家沟镇", reference=("全县平均", Decimal("95.2"))))
    marked = elements(root, "rect", "highlight")
    assert len(marked) == 1 and marked[0].get("fill") == HIGHLIGHT
    assert [r.get("class") for r in elements(root, "rect", "bar")] == ["bar", "bar highlight", "bar"]
    reference = elements(root, "g", "reference")[0]
    assert "".join(reference.itertext()) == "全县平均 95.2分"
    line = elements(reference, "line")[0]
    assert line.get("x1") == line.get("x2")


def test_long_labels_are_cut_with_the_full_name_as_a_tooltip():
    name = "某某县某某镇人民政府某某办公室某某股室某某组"
    root = parse(bar_chart([(name, 1)], title="t", width=400))
    (shown,) = texts(root, "label")
    assert shown.endswith("…") and len(shown) < len(name)
    assert elements(root, "g", "row")[0].find(SVG + "title").text == name


@pytest.mark.parametrize("values", [[0, 0, 0], [100, 100], [Decimal("-5"), Decimal("-5")], [0], [-3, 7]])
def test_equal_zero_or_negative_values_do_not_break_the_scale(values):
    root = parse(bar_chart([(str(i), v) for i, v in enumerate(values)], title="t"))
    widths = [float(r.get("width")) for r in elements(root, "rect", "bar")]
    assert len(widths) == len(values) and all(math.isfinite(w) and w >= 0 for w in widths)


def test_a_value_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError):
        bar_chart([("甲", float("nan"))], title="t")
    with pytest.raises(ValueError):
        bar_chart([("甲", Decimal("Infinity"))], title="t")


def test_empty_input_says_no_data():
    for chart in (
        bar_chart([], title="t"),
        line_chart([], title="t", periods=["2026Q1"]),
        line_chart([Series("甲", [])], title="t", periods=[]),
        line_chart([Series("甲", [None, None])], title="t", periods=["2026Q1", "2026Q2"]),
        stacked_bar_chart([], title="t", segments=["在办"]),
    ):
        root = parse(chart)
        assert [t.text for t in elements(root, "text")] == [EMPTY_TEXT]
        assert root.get("role") == "img"


@given(
    st.lists(
        st.tuples(
            st.text(max_size=30),
            st.one_of(
                st.integers(-(10**6), 10**6),
                st.floats(-1e6, 1e6, allow_nan=False),
                st.decimals(-(10**6), 10**6, allow_nan=False, allow_infinity=False, places=2),
            ),
        ),
        max_size=25,
    )
)
def test_any_labels_and_values_give_well_formed_svg_with_one_bar_each(items):
    root = parse(bar_chart(items, title="得分"))
    if items:
        assert len(elements(root, "rect", "bar")) == len(items)
        assert len(elements(root, "g", "row")) == len(items)
        assert all(0 <= float(r.get("width")) < 640 for r in elements(root, "rect", "bar"))
    else:
        assert "".join(root.itertext()).endswith(EMPTY_TEXT)


# --- line chart ---------------------------------------------------------------------


def test_line_points_labels_axes_and_gaps():
    periods = ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    root = parse(line_chart([Series("桃镇", [Decimal("97.5"), None, 98, 99])], title="趋势", periods=periods))
    assert texts(root, "period") == periods
    series = elements(root, "g", "series")[0]
    assert len(elements(series, "circle", "point")) == 3
    assert texts(series, "value") == ["97.5", "98", "99"]
    # The None breaks the line in two pieces instead of dropping to zero.
    d = elements(series, "path")[0].get("d")
    assert d.count("M") == 2 and d.count("L") == 1
    ticks = [float(t) for t in texts(root, "tick")]
    assert ticks == sorted(ticks) and len(ticks) >= 3 and len(elements(root, "line", "grid")) == len(ticks)
    assert not elements(root, "g", "legend")


def test_higher_values_are_drawn_higher_and_periods_left_to_right():
    root = parse(line_chart([Series("甲", [1, 3, 2])], title="t", periods=["a", "b", "c"]))
    points = elements(root, "circle", "point")
    xs = [float(p.get("cx")) for p in points]
    ys = [float(p.get("cy")) for p in points]
    assert xs == sorted(xs)
    assert ys[1] < ys[2] < ys[0]


def test_several_series_get_a_legend_and_distinct_colours_and_markers():
    series = [Series("桃镇", [97, 98]), Series("全县平均", [95, 96]), ("王庄乡", [90, None])]
    root = parse(line_chart(series, title="t", periods=["2026Q1", "2026Q2"]))
    legend = elements(root, "g", "legend")
    assert len(legend) == 1
    assert [t.text for t in elements(legend[0], "text")] == ["桃镇", "全县平均", "王庄乡"]
    groups = elements(root, "g", "series")
    colours = [elements(g, "path")[0].get("stroke") for g in groups]
    assert len(set(colours)) == 3
    assert len(elements(groups[0], "circle", "point")) == 2 and not elements(groups[1], "circle")


def test_flat_and_single_point_lines_do_not_divide_by_zero():
    for values in ([0, 0], [100, 100], [5]):
        periods = [f"P{i}" for i in range(len(values))]
        root = parse(line_chart([Series("甲", values)], title="t", periods=periods))
        assert all(math.isfinite(float(p.get("cy"))) for p in elements(root, "circle", "point"))


def test_values_must_match_the_periods():
    with pytest.raises(ValueError):
        line_chart([Series("甲", [1, 2])], title="t", periods=["2026Q1"])


# --- stacked bar chart --------------------------------------------------------------


def test_stacked_bars_split_by_segment_with_totals_and_a_legend():
    groups = [Stack("城关片区", [12, 3, 7], "/zones/1"), Stack("东片区", [4, 0, 9]), ("西片区", [0, 0, 0])]
    root = parse(stacked_bar_chart(groups, title="问题", segments=["在办", "逾期", "本期销号"]))
    assert texts(root, "label") == ["城关片区", "东片区", "西片区"]
    assert texts(root, "value") == ["22件", "13件", "0件"]
    legend = elements(root, "g", "legend")[0]
    assert [t.text for t in elements(legend, "text")] == ["在办", "逾期", "本期销号"]
    rows = elements(root, "g", "row")
    first = [float(r.get("width")) for r in elements(rows[0], "rect", "segment")]
    second = [float(r.get("width")) for r in elements(rows[1], "rect", "segment")]
    assert len(first) == 3 and len(second) == 2  # a zero count draws nothing
    assert first[0] == pytest.approx(4 * first[1], abs=0.3)  # widths are rounded to 0.1
    assert sum(second) == pytest.approx(sum(first) * 13 / 22, abs=0.2)
    # Pieces follow one another.
    xs = [float(r.get("x")) for r in elements(rows[0], "rect", "segment")]
    assert xs[1] == pytest.approx(xs[0] + first[0], abs=0.1)
    assert elements(root, "a")[0].get("href") == "/zones/1"
    assert not elements(rows[2], "rect")


def test_stacked_all_zero_and_custom_colours():
    root = parse(stacked_bar_chart([("甲", [0, 0])], title="t", segments=["a", "b"], colors=["#111", "#222"]))
    assert texts(root, "tick")[0] == "0"
    assert all("." not in t for t in texts(root, "tick"))  # counts: whole ticks
    root = parse(stacked_bar_chart([("甲", [1, 2])], title="t", segments=["a", "b"], colors=["#111", "#222"]))
    assert [r.get("fill") for r in elements(root, "rect", "segment")] == ["#111", "#222"]


def test_counts_must_match_the_segments():
    with pytest.raises(ValueError):
        stacked_bar_chart([("甲", [1, 2])], title="t", segments=["在办"])
