"""How an office's own circular text becomes paragraphs: one a line, its 一、 and
（一） lines as headings, an opening addressee line printed once as the addressees."""

from __future__ import annotations

from workers.documents.content import addressed, paragraphs_of
from workers.documents.model import BODY, HEADING_1, HEADING_2


def test_numbered_lines_are_headings_and_an_opening_addressee_line_names_the_addressees():
    body = "各街镇、县直各相关部门：\n现将有关情况通报如下。\n一、逾期未整改单位\n1. 刘家坪村：逾期未整改。\n（一）整改要求\n"
    addressees, rest = addressed(body, "各镇（街道）、县直各部门：")
    assert addressees == "各街镇、县直各相关部门："
    assert [(p.text, p.level) for p in paragraphs_of(rest)] == [
        ("现将有关情况通报如下。", BODY),
        ("一、逾期未整改单位", HEADING_1),
        ("1. 刘家坪村：逾期未整改。", BODY),
        ("（一）整改要求", HEADING_2),
    ]


def test_a_text_without_an_addressee_line_keeps_the_default_and_every_line():
    assert addressed("经研究，决定通报批评。", "各镇（街道）、县直各部门：") == ("各镇（街道）、县直各部门：", "经研究，决定通报批评。")
    assert addressed("", "各部门：") == ("各部门：", "")
