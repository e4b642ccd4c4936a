"""Sample official documents of each kind, for the tests and bench/documents.py."""

from __future__ import annotations

from datetime import date

from workers.documents.model import (
    CRITICISM,
    FINDING_NOTICE,
    HEADING_1,
    HEADING_2,
    RANKING,
    UNIT_NOTICE,
    Attachment,
    Column,
    OfficialDocument,
    Paragraph,
    Table,
)

#: A full chain head at a long position (12 digits): the longest anchor line to expect.
ANCHOR = "3f9a0c7be21d45f68a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f7@123456789012"
TOWNS = ("银州街道", "桃镇", "龙镇", "杨家店镇", "沙家店镇", "印斗镇", "郭兴庄镇", "城郊镇", "十里铺乡", "高渠乡")
ITEMS = ("两不愁三保障", "饮水安全", "产业帮扶", "帮扶责任落实", "档案资料")
TYPES = ("住房安全", "政策落实", "工作作风", "数据质量")
DESCRIPTIONS = (
    "该户危房改造未按期完成，房屋墙体存在裂缝，帮扶责任人未及时上报",
    "饮水工程入户管道冻裂，群众反映已逾两周无人维修",
    "产业奖补资金兑付台账与银行流水不一致，差额三千二百元",
    "帮扶手册填写不规范，走访记录与实际不符",
    "脱贫户收入核算漏计务工收入，影响监测结果",
)

FINDINGS_COLUMNS = (
    Column("序号", 12, "center"), Column("责任单位", 26), Column("检查事项", 28),
    Column("问题类型", 18, "center"), Column("问题描述"), Column("整改情况", 22, "center"),
)  # fmt: skip


def finding_rows(count: int) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (
            str(i + 1),
            f"{TOWNS[i % len(TOWNS)]}人民政府",
            ITEMS[i % len(ITEMS)],
            TYPES[i % len(TYPES)],
            f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]}（第{i + 1}号）。" + ("经复查仍未整改到位，责令限期整改。" if i % 3 == 0 else ""),
            "未整改" if i % 4 else "整改中",
        )
        for i in range(count)
    )


COMMON = dict(
    authority_mark="米脂县脱贫攻坚指挥部文件",
    addressees="各镇（街道）、县直各部门：",
    signatory="米脂县脱贫攻坚指挥部办公室",
    signed_on=date(2026, 11, 29),
    copy_to="县委办公室，县政府办公室，县纪委监委",
    printer="米脂县脱贫攻坚指挥部办公室",
    printed_on=date(2026, 11, 30),
    verification_code="7K3Q-9XTD-4M",
    verification_url="https://duban.example.cn/verify/7K3Q-9XTD-4M",
)


def finding_notice() -> OfficialDocument:
    return OfficialDocument(
        kind=FINDING_NOTICE,
        document_id="notice-0001",
        document_number="米脱指改〔2026〕7号",
        title="关于桃镇高家沟村危房改造问题的整改通知书",
        paragraphs=(
            Paragraph("2026年11月20日，县脱贫攻坚指挥部督查组在桃镇高家沟村检查中发现以下问题，现通知如下。"),
            Paragraph("一、存在问题", HEADING_1),
            Paragraph("（一）住房安全保障不到位", HEADING_2),
            Paragraph("涉及户编号：6108＊＊＊＊0123。该户危房改造未按期完成，房屋墙体存在裂缝，帮扶责任人未及时上报。"),
            Paragraph("二、整改要求", HEADING_1),
            Paragraph("请你单位于2026年12月15日前整改到位，并将整改情况书面报县脱贫攻坚指挥部办公室。逾期未整改的，将按效能考评规则扣分并予以通报。"),
        ),
        notes=("（联系人：李明，电话：0912-1234567）",),
        **{**COMMON, "addressees": "桃镇人民政府："},
    )


def unit_notice(rows: int = 12) -> OfficialDocument:
    return OfficialDocument(
        kind=UNIT_NOTICE,
        document_id="unit-notice-0001",
        document_number="米脱指改〔2026〕15号",
        title="关于桃镇人民政府未整改问题的整改通知书",
        paragraphs=(
            Paragraph(f"截至2026年11月29日，你单位尚有{rows}个问题未整改到位，具体如下表。请逐项整改，于2026年12月20日前将整改情况书面报县脱贫攻坚指挥部办公室。"),
        ),
        tables=(Table(columns=FINDINGS_COLUMNS, rows=finding_rows(rows)),),
        **{**COMMON, "addressees": "桃镇人民政府："},
    )


def criticism(rows: int = 120, document_id: str = "circular-0001") -> OfficialDocument:
    units = [f"{town}人民政府" for town in TOWNS]
    return OfficialDocument(
        kind=CRITICISM,
        document_id=document_id,
        document_number="米脱指发〔2026〕12号",
        title="关于对银州街道等10个单位脱贫攻坚问题整改不力的通报",
        paragraphs=(
            Paragraph("为压实脱贫攻坚责任，县脱贫攻坚指挥部组织督查组对各镇（街道）问题整改情况进行了督查。现将有关情况通报如下。"),
            Paragraph("一、被通报单位", HEADING_1),
            Paragraph(f"对以下{len(units)}个单位予以全县通报批评，并按效能考评规则各扣减相应分值。"),
            Paragraph("二、有关要求", HEADING_1),
            Paragraph("被通报单位要认真反思，举一反三，对附件所列问题逐项整改到位，并将整改情况书面报县脱贫攻坚指挥部办公室。"),
        ),
        tables=(
            Table(
                columns=(Column("序号", 14, "center"), Column("单位"), Column("被通报问题数", 32, "center"), Column("扣分", 22, "center")),
                rows=tuple((str(i + 1), unit, str(3 + i), f"{(3 + i) * 0.5:.1f}") for i, unit in enumerate(units)),
            ),
        ),
        attachments=(
            Attachment(title="全县通报批评问题清单", table=Table(columns=FINDINGS_COLUMNS, rows=finding_rows(rows), caption="（按责任单位排列）")),
        ),
        anchor=ANCHOR,
        **COMMON,
    )


def ranking() -> OfficialDocument:
    units = [f"{town}人民政府" for town in TOWNS]
    return OfficialDocument(
        kind=RANKING,
        document_id="ranking-2026-q4",
        document_number="米脱指发〔2026〕13号",
        title="关于2026年第四季度脱贫攻坚效能考评排名情况的通报",
        paragraphs=(
            Paragraph("本次考评周期为2026年第四季度，考评数据截至2026年11月29日。"),
            Paragraph("一、镇（街道）考评排名", HEADING_1),
        ),
        tables=(
            Table(
                columns=(Column("名次", 14, "center"), Column("单位"), Column("得分", 20, "center"), Column("扣分", 18, "center"),
                         Column("按期整改率", 26, "center"), Column("销号率", 22, "center")),
                rows=tuple((str(i + 1), unit, f"{98.5 - i * 1.5:.1f}", f"{1.5 + i * 1.5:.1f}", f"{100 - i * 3}%", f"{95 - i * 4}%") for i, unit in enumerate(units)),
            ),
        ),
        **COMMON,
    )


ALL = {"finding_notice": finding_notice, "unit_notice": unit_notice, "criticism": criticism, "ranking": ranking}
