"""The demo county (米脂县): an illustrative history written through the service.

``load_demo`` opens its own application on a travelling clock set about 75 days
before ``now``, registers the county's organisation and users, opens the
rulebook, runs one inspection round (督查批次) and then lives through the
following weeks day by day: notices are issued and acknowledged, rectifications
submitted, accepted or rejected, extensions asked for, granted or denied,
missed deadlines recorded by the system each morning, refusals escalated to the
discipline commission, a circular of criticism issued and a case opened. The
clock stops at ``now``, so the store looks like an office in the middle of its
work: some findings closed (已销号), some overdue, some waiting for a notice or
for verification.

Everything is written through ``domain.service.Duban``'s commands, never as raw
events, so the demo is also a long integration test of the domain. The history
is deterministic given ``now``: every choice comes from ``random.Random`` with a
fixed seed, and units, users, the inspection and findings have fixed ids
(``demo_id``). Names of villages, people and household numbers are invented.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID, uuid5

from domain.errors import ConcurrentChange, DomainError
from domain.events import (
    CADRE,
    CHINA,
    COMMAND,
    DISCIPLINE,
    INSPECTOR,
    REGION,
    ROLES,
    SYSTEM_ACTOR,
    UNIT,
    Actor,
    local_date,
)
from domain.finding import RECTIFYING, STATUSES, Finding
from domain.rules.deductions import OVERDUE, period_of
from domain.rules.rulebook import DEFAULT_RULES
from domain.rules.working_days import WorkingCalendar
from domain.service import TravellingClock
from projections.storage import open_application

#: Fixed ids: uuid5 on this namespace and a readable key ("unit:桃镇", "user:gaojianjun").
DEMO_NAMESPACE = UUID("6f1c0f5e-8d2b-5a47-9c1e-5d1b0a7e2026")
SEED = 20190507  # the day Shaanxi announced Mizhi's exit from the poor-county list
HISTORY_DAYS = 75
COUNTY_NAME = "米脂县"
DOCUMENT_PREFIX = "米脱指发"
OFFICE_NAME = "县脱贫攻坚指挥部办公室"
DISCIPLINE_NAME = "县纪委监委"
#: Every demo user's password (printed by load-demo, shown on the sign-in page in the
#: embedded mode). A demo store is for trying the software, never for real data.
DEMO_PASSWORD = "mizhi2019"
#: The city office above the demo county (上级指挥部): a region holding it, and one user.
REGION_NAME = "榆林市"
REGION_LOGIN = "yulinshi"
REGION_USER_NAME = "乔主任"

OPENING = time(9, 0)
SWEEP = time(8, 30)


def fill_words(rng: random.Random, months: tuple[int, int], last_year: int) -> dict[str, Any]:
    """Words for a finding's description template (FILL), drawn from ``rng`` in a fixed order."""
    cause, needed = rng.choice(FILL["cause"])
    a = rng.randint(3, 6)
    return {
        "month": rng.randint(*months),
        "last_year": last_year,
        "income": rng.choice(FILL["income"]),
        "member": rng.choice(FILL["member"]),
        "a": a,
        "b": a + rng.choice((-1, 1)),
        "cause": cause,
        "needed": needed,
        "measure": rng.choice(FILL["measure"]),
        "crop": rng.choice(FILL["crop"]),
        "relation": rng.choice(FILL["relation"]),
        "term": rng.choice(FILL["term"]),
        "n": rng.randint(2, 17),
    }


def demo_id(key: str) -> UUID:
    """The fixed id of a demo record, e.g. ``demo_id("unit:米脂县")``."""
    return uuid5(DEMO_NAMESPACE, key)


# The organisation ---------------------------------------------------------

ZONES = {
    "东战区": ("银州街道", "桃镇", "杨家沟镇", "杜家石沟镇", "郭兴庄镇"),
    "西战区": ("城郊镇", "龙镇", "沙家店镇", "印斗镇"),
}

VILLAGES = {
    "银州街道": ("李家沟村", "官庄村", "南关村", "马家铺村"),
    "桃镇": ("常家沟村", "白家岔村", "崔家畔村", "刘家坪村", "姬家峁村"),
    "杨家沟镇": ("马家山村", "杨家湾村", "冯家岔村", "高家坪村"),
    "杜家石沟镇": ("杜家石沟村", "艾家渠村", "贺家畔村", "王家砭村", "陈家圪崂村"),
    "郭兴庄镇": ("郭兴庄村", "卧牛湾村", "张家岔村", "曹家沟村"),
    "城郊镇": ("孙家沟村", "惠家园则村", "三十铺村", "十里铺村", "高渠村"),
    "龙镇": ("龙镇村", "党家沟村", "姜家岔村", "白家硷村"),
    "沙家店镇": ("沙家店村", "李家站村", "任家岔村", "后张家沟村", "冯家峁村"),
    "印斗镇": ("印斗村", "郝家沟村", "石畔村", "马蹄洼村"),
}

DEPARTMENTS = ("县教育局", "县卫健局", "县住建局", "县水务局", "县人社局", "县农业农村局", "县民政局", "县医保局")

#: Towns whose office also has a responsible cadre of its own.
TOWN_CADRES = ("银州街道", "桃镇", "龙镇", "沙家店镇")

SURNAMES = (
    ("李", "li"), ("高", "gao"), ("艾", "ai"), ("常", "chang"), ("杜", "du"), ("马", "ma"), ("姬", "ji"),
    ("冯", "feng"), ("刘", "liu"), ("张", "zhang"), ("王", "wang"), ("郭", "guo"), ("贺", "he"), ("白", "bai"),
    ("惠", "hui"), ("杨", "yang"), ("任", "ren"), ("曹", "cao"), ("崔", "cui"), ("姜", "jiang"), ("党", "dang"),
    ("薛", "xue"), ("孙", "sun"), ("霍", "huo"),
)  # fmt: skip
GIVEN = (
    ("建", "jian"), ("军", "jun"), ("志", "zhi"), ("强", "qiang"), ("海", "hai"), ("涛", "tao"), ("红", "hong"),
    ("霞", "xia"), ("丽", "li"), ("娟", "juan"), ("明", "ming"), ("亮", "liang"), ("波", "bo"), ("斌", "bin"),
    ("峰", "feng"), ("鹏", "peng"), ("飞", "fei"), ("芳", "fang"), ("敏", "min"), ("静", "jing"), ("磊", "lei"),
    ("宁", "ning"), ("平", "ping"), ("华", "hua"), ("荣", "rong"), ("瑞", "rui"), ("勇", "yong"), ("刚", "gang"),
    ("伟", "wei"), ("燕", "yan"), ("文", "wen"), ("生", "sheng"), ("小", "xiao"), ("彦", "yan"),
)  # fmt: skip


# Check items (检查事项), in the seed's words -----------------------------------


@dataclass(frozen=True)
class CheckItem:
    item: str
    category: str
    severities: tuple[str, ...]  # drawn from, so the commoner grade appears more often
    target: str  # village, town or department
    household: bool
    text: str
    fix: str
    not_good_enough: str
    departments: tuple[str, ...] = ()


G, S, X = "general", "serious", "grave"

CHECK_ITEMS = (
    CheckItem("帮扶手册填写不完整", "missing", (G, G, S), "village", True,
              "该户帮扶手册“帮扶措施”“收入测算”栏目空缺，{month}月份帮扶记录未填写，帮扶责任人未签字确认。",
              "已对照国扶办系统逐项补填帮扶手册，补记{month}月份帮扶记录，帮扶责任人和户主签字确认。",
              "帮扶手册收入测算栏仍未填写完整，补记内容与系统数据不符，请重新核对。"),
    CheckItem("收入核算缺项", "missing", (S, S, G), "village", True,
              "该户年度家庭收入核算未计入{income}，生产经营性支出未扣除，人均纯收入测算依据缺失。",
              "已入户重新核算家庭收入，补录{income}并扣除生产经营性支出，核算表经户主签字确认后同步更新系统。",
              "收入核算仍未扣除生产经营性支出，测算依据（收购凭证、工资发放表）未附。"),
    CheckItem("户档案与国办系统不一致（三个一致）", "inconsistent", (S, S, X), "village", True,
              "该户村级档案登记家庭人口{a}人，国扶办系统登记{b}人，{member}信息未同步，不符合“三个一致”要求。",
              "已核实家庭人口变化情况，按程序在国扶办系统更新家庭成员信息，村级档案与系统一致。",
              "系统已更新，但镇级档案仍未同步修改，“三个一致”未完全落实。"),
    CheckItem("帮扶措施与致贫原因不对应（三个对应）", "noncorresponding", (S, G), "village", True,
              "该户主要致贫原因为{cause}，系统录入帮扶措施仅有{measure}，未落实{needed}措施，不符合“三个对应”要求。",
              "已根据致贫原因调整帮扶计划，落实{needed}措施，并在系统和帮扶手册中补录。",
              "新增措施未与行业部门帮扶台账核对，户主口述措施与系统录入仍不对应。"),
    CheckItem("危房改造信息更新不及时", "outdated", (S, X), "village", True,
              "该户危房改造已于{month}月竣工验收并入住，系统住房安全保障信息仍显示为“C级危房”，未及时更新。",
              "已依据竣工验收单更新系统住房安全保障信息，补充改造前后照片存档。",
              "未附县住建局出具的竣工验收结论，系统信息更新依据不足。"),
    CheckItem("医保参保信息漏项", "omitted", (G, G, S), "village", True,
              "该户{n}名家庭成员城乡居民医疗保险参保信息漏录，大病保险、医疗救助享受情况未填写。",
              "已与县医保局核对参保缴费记录，补录家庭成员参保及医疗救助信息。",
              "仍有1名家庭成员参保信息未补录。"),
    CheckItem("产业帮扶台账不规范", "nonstandard", (G, G, S), "village", False,
              "村级产业帮扶台账未按统一模板建立，{crop}产业奖补资金发放记录缺少户主签字和发放日期。",
              "已按统一模板重建产业帮扶台账，补齐{crop}产业奖补资金发放记录及户主签字。",
              "台账仍有部分发放记录缺少发放日期，与“一户一策”不衔接。"),
    CheckItem("家庭成员信息漏项", "omitted", (G, S), "village", True,
              "该户新增人口（{relation}）未录入国扶办系统，家庭成员信息漏项。",
              "已按新增人口程序录入家庭成员信息，附户口簿复印件。",
              "新增人员的健康状况、劳动能力等字段仍为空。"),
    CheckItem("光伏收益分配台账不规范", "nonstandard", (G,), "village", False,
              "村级光伏电站第一批收益分配台账未注明分配依据，公益岗位人员名单与资金发放记录未一一对应。",
              "已完善光伏收益分配方案和台账，公益岗位人员名单与发放记录逐一对应并公示。",
              "分配台账公示照片未附，公示时间不足5天。"),
    CheckItem("四支队伍工作记录不规范", "nonstandard", (G,), "village", False,
              "驻村工作队、第一书记工作日志记录简单，{month}月份入户走访记录不全，未体现解决的实际问题。",
              "已组织四支队伍补全工作日志，规范入户走访记录，逐户注明解决的实际问题。",
              "工作日志仍存在事后集中补记现象，走访记录与帮扶手册不一致。"),
    CheckItem("脱贫攻坚作战图和公示栏更新不及时", "outdated", (G,), "village", False,
              "村级脱贫攻坚作战图、公示栏仍为{last_year}年数据，动态调整后的贫困户名单未及时公示。",
              "已更新作战图和公示栏，动态调整后的名单公示期满无异议。",
              "作战图已更新，公示栏名单仍未更换。"),
    CheckItem("动态调整佐证资料缺失", "missing", (S, G), "village", True,
              "该户{last_year}年动态调整标注脱贫，村民代表大会评议记录、公示照片等佐证资料缺失。",
              "已补齐村民代表大会评议记录、两公示一公告照片等佐证资料，归入一户一档。",
              "评议记录缺少参会人员签字。"),
    CheckItem("两不愁三保障及饮水安全信息缺项", "missing", (X, S), "village", True,
              "该户安全饮水保障情况（水量、水质、取水方便程度）未填写，“两不愁三保障”及饮水安全信息缺项。",
              "已入户核实并补录“两不愁三保障”及饮水安全各项信息。",
              "水质检测结论未附，饮水安全信息仍不完整。"),
    CheckItem("扶贫档案盒标识不统一", "other", (G,), "village", False,
              "村级扶贫档案盒标识、卷内目录不统一，“一户一档”资料摆放混乱，查阅困难。",
              "已按县指挥部办公室统一样式重新制作档案盒标识和卷内目录。",
              "卷内目录与实际资料不符。"),
    CheckItem("驻村工作队考勤落实不到位", "other", (G, S), "village", False,
              "驻村工作队队员{month}月份在岗考勤记录不全，存在代签现象。",
              "已落实考勤登记制度，考勤记录由镇包村领导每周核查签字。",
              "考勤记录仍有代签痕迹。"),
    CheckItem("街镇档案资料归档不规范", "nonstandard", (G, S), "town", False,
              "镇级脱贫攻坚档案未按“一村一档、一户一档”要求分类归档，{last_year}年度数据清洗资料未装订成册。",
              "已按要求分类归档，数据清洗资料装订成册并编制目录。",
              "部分行政村档案仍未按户分类。"),
    CheckItem("数据清洗问题整改台账缺项", "missing", (G,), "town", False,
              "镇级数据清洗问题整改台账缺少整改时限、责任人和销号时间等项目。",
              "已补全整改台账各项目，明确每个问题的责任人、时限和销号时间。",
              "台账中仍有{n}个问题未明确责任人。"),
    CheckItem("街镇互查问题未按期反馈", "other", (G, S), "town", False,
              "{month}月份街镇互查发现的{n}个问题未按要求在5个工作日内反馈整改情况。",
              "已逐项反馈互查问题整改情况，并建立互查问题跟踪台账。",
              "反馈材料未附整改佐证。"),
    CheckItem("帮扶干部花名册更新不及时", "outdated", (G, S), "town", False,
              "镇级帮扶责任人花名册未随人员调整及时更新，{n}名已调离干部仍在册，新调整帮扶责任人未录入系统。",
              "已更新帮扶责任人花名册并在系统中调整帮扶关系。",
              "系统中帮扶关系仍未调整到位。"),
    CheckItem("镇村两级数据不一致", "inconsistent", (S, X), "town", False,
              "镇级汇总的建档立卡人口数与各村上报数据相差{n}人，与国扶办系统不一致。",
              "已组织各村逐户核对，镇村两级数据与国扶办系统一致。",
              "仍有1个村的数据未核对。"),
    CheckItem("医保参保信息漏项", "omitted", (S, G), "department", False,
              "比对发现{n}名建档立卡贫困人口医保参保缴费信息漏项，未及时反馈至镇村更新系统。",
              "已完成全县建档立卡人口参保信息比对，漏项信息已反馈镇村并更新。",
              "反馈清单未经镇村签收确认。", ("县医保局",)),
    CheckItem("教育资助数据与国办系统不一致", "inconsistent", (S,), "department", False,
              "{term}学期教育资助台账与国扶办系统比对，{n}名在校学生资助信息不一致。",
              "已逐人核对学籍和资助发放记录，资助台账与系统一致。",
              "跨县就读学生资助信息仍未核实。", ("县教育局",)),
    CheckItem("行业部门帮扶措施与系统录入不对应", "noncorresponding", (S, G), "department", False,
              "产业奖补资金发放名册与系统录入的产业帮扶措施不对应，涉及{n}户。",
              "已与镇村逐户核对，更新系统产业帮扶措施，奖补名册与系统对应。",
              "仍有部分户奖补金额与系统不符。", ("县农业农村局",)),
    CheckItem("危房改造信息更新不及时", "outdated", (S, X), "department", False,
              "{last_year}年危房改造竣工验收名单未及时推送镇村，{n}户住房安全信息未更新。",
              "已将竣工验收名单推送各街镇，督促完成系统更新。",
              "推送名单缺少验收日期。", ("县住建局",)),
    CheckItem("安全饮水信息更新不及时", "outdated", (G, S), "department", False,
              "农村安全饮水巩固提升工程受益户名单未及时更新，{n}户饮水安全保障信息与实际不符。",
              "已更新受益户名单并反馈镇村，饮水安全信息与实际一致。",
              "部分受益户水量、水质信息未更新。", ("县水务局",)),
    CheckItem("就业帮扶信息缺项", "missing", (G,), "department", False,
              "就业扶贫台账缺少务工地点、务工时间和月收入等信息，涉及{n}人。",
              "已补充务工地点、时间和收入信息，并与镇村台账核对一致。",
              "省外务工人员收入信息仍缺。", ("县人社局",)),
    CheckItem("低保兜底信息不一致", "inconsistent", (S, X), "department", False,
              "农村低保、特困供养名单与国扶办系统“兜底保障”标注不一致，涉及{n}户。",
              "已完成低保、特困名单与系统比对，标注一致。",
              "新纳入低保户未在系统中标注。", ("县民政局",)),
    CheckItem("健康扶贫数据更新不及时", "outdated", (G, S), "department", False,
              "家庭医生签约服务、慢病卡办理信息未及时更新，{n}名贫困人口签约信息与实际不符。",
              "已更新家庭医生签约和慢病卡信息，并向镇村推送。",
              "慢病卡办理信息仍未更新。", ("县卫健局",)),
    CheckItem("行业部门数据报送不规范", "nonstandard", (G,), "department", False,
              "行业部门数据未按月以规定格式报送县指挥部办公室，{month}月份数据报送滞后。",
              "已按规定格式补报数据，并明确专人按月报送。",
              "报送数据仍缺少汇总表。", DEPARTMENTS),
)  # fmt: skip

FILL = {
    "income": ("光伏分红收入", "公益性岗位工资", "生态护林员补助", "山地苹果销售收入", "外出务工收入", "低保金"),
    "member": ("新生儿", "已婚出嫁女儿", "去世老人", "外出务工儿子"),
    "cause": (("因病", "健康扶贫"), ("因学", "教育资助"), ("缺劳力", "兜底保障"), ("缺技术", "技能培训"), ("缺资金", "小额信贷")),
    "measure": ("产业扶持（山地苹果）", "光伏收益分配", "产业扶持（米脂小米）"),
    "crop": ("山地苹果", "米脂小米", "养殖"),
    "relation": ("新生儿", "新娶儿媳"),
    "term": ("春季", "秋季"),
}  # fmt: skip

EVIDENCE = {
    "missing": ("补填页扫描件.pdf", "户主签字确认表.jpg"),
    "omitted": ("补录信息截图.png", "参保缴费凭证.jpg"),
    "nonstandard": ("规范后台账.xlsx", "整改前后对照.jpg"),
    "outdated": ("系统更新截图.png", "竣工验收单.jpg"),
    "inconsistent": ("比对核实表.xlsx", "系统更新截图.png"),
    "noncorresponding": ("调整后帮扶计划.pdf", "帮扶手册补录页.jpg"),
    "other": ("整改情况说明.pdf", "现场照片.jpg"),
}

EXTENSION_REASONS = (
    "户主常年在外务工，需待其返乡后入户核实并签字确认，申请延期。",
    "需等待县住建局出具竣工验收结论后方可更新系统信息，申请延期。",
    "正值秋收农忙，帮扶责任人需集中入户核实，申请延期。",
    "涉及跨部门数据比对，行业部门反馈数据尚未到位，申请延期。",
)
DENIAL_REASONS = (
    "所涉问题为资料补录，不存在客观困难，不予延期，请按原期限整改。",
    "申请理由不充分，该问题可通过电话核实后补录，不予延期。",
)
ACCEPT_NOTES = ("经核查，整改到位，同意销号。", "经现场核实，资料已补齐，予以销号。", "整改材料齐全，与系统数据一致，同意销号。")
WITHDRAW_REASONS = (
    "经复核，该户已于本年度动态调整中按程序标注，问题系督查人员使用旧版台账比对所致，属误报，予以撤销。",
    "与同批次已登记问题重复，予以撤销。",
)
APPEAL_REASONS = (
    "申诉成立：经核实，逾期期间该村遭遇强降雨，道路中断、系统停机，逾期事出有因，撤销本次扣分。",
    "申诉成立：整改材料已于期限内线下报送，因系统故障未能及时提交，撤销本次扣分。",
)

CN_QUARTER = {1: "一", 2: "二", 3: "三", 4: "四"}


# What load_demo returns -----------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    county_id: UUID
    county_name: str
    inspection_id: UUID
    inspection_title: str
    started_at: datetime
    ended_at: datetime
    finding_ids: tuple[UUID, ...]
    counts_by_status: dict[str, int]
    overdue_now: int
    events_written: int
    #: role -> (number of users holding it, one example login)
    users_by_role: dict[str, tuple[int, str]]
    circular_number: str | None = None
    case_id: UUID | None = None
    #: Steps of the script the domain refused (expected to be empty).
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        start, end = local_date(self.started_at), local_date(self.ended_at)
        statuses = " · ".join(
            f"{STATUSES[s]} {s} {self.counts_by_status.get(s, 0)}" for s in STATUSES
        )
        lines = [
            f"Demo county {self.county_name} loaded: {len(self.finding_ids)} findings, "
            f"{self.events_written} events, {start} → {end}",
            f"  督查批次: {self.inspection_title}",
            f"  Status 状态: {statuses}",
            f"  Overdue now 逾期未整改: {self.overdue_now}"
            + (f" · circular 通报 {self.circular_number}" if self.circular_number else ""),
            f"  Sign in (登录) at /sign-in, every demo user's password is {DEMO_PASSWORD} (role: example login, users):",
        ]
        for role, (count, login) in self.users_by_role.items():
            lines.append(f"    {role:<10} {ROLES.get(role, role)}: {login} ({count})")
        if self.problems:
            lines.append(f"  {len(self.problems)} scripted step(s) refused: " + "; ".join(self.problems[:3]))
        return "\n".join(lines)


def load_demo(store_env: dict[str, str] | None = None, now: datetime | None = None) -> DemoSummary | None:
    """Load the demo county into an empty store; None (and nothing written) otherwise.

    ``now`` (default: the real time; a naive value is taken as UTC) is where the
    story ends: no event is later. The same ``now`` always writes the same story.
    """
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc)
    calendar = WorkingCalendar()
    start_day = local_date(now) - timedelta(days=HISTORY_DAYS)
    while not calendar.is_working_day(start_day):
        start_day += timedelta(days=1)
    clock = TravellingClock(datetime.combine(start_day, OPENING, tzinfo=CHINA))
    app = open_application(store_env, clock=clock)
    try:
        if app.position() > 0:
            return None
        return _Story(app, clock, now).run()
    except _StoreInUse:
        return None
    finally:
        app.close()


# The story --------------------------------------------------------------------


class _EndOfStory(Exception):
    """The next step would happen after ``now``."""


class _StoreInUse(Exception):
    """Another process wrote the county between our look at the store and our first write."""


@dataclass
class _Spec:
    number: int
    unit: str  # unit name
    check: CheckItem
    severity: str
    plan: str
    source: str = "inspection"
    inspector: str = ""  # login
    file_wd: int | None = None  # working-day index on which it is filed
    file_left: int | None = None  # ...or: working days before the end
    household: str = ""
    cadres: tuple[str, ...] = ()
    words: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def id(self) -> UUID:
        return demo_id(f"finding:{self.number}")


@dataclass(frozen=True)
class _Person:
    login: str
    name: str
    unit: str
    roles: tuple[str, ...]


#: Phase 1 (the inspection) plans, with how many findings follow each.
PHASE_ONE = (
    ("on_time", 20),
    ("late", 6),
    ("rejected_once", 6),
    ("rejected_twice_refuses", 1),
    ("rejected_twice_then_closed", 1),
    ("never_rectified", 3),
    ("late_rejected_stalled", 2),
    ("extension_granted", 4),
    ("extension_granted_missed", 1),
    ("extension_denied_late", 2),
    ("extension_denied_on_time", 1),
    ("withdrawn_before_notice", 1),
    ("withdrawn_after_notice", 1),
    ("appeal_upheld", 2),
    ("resubmitted_at_end", 1),
)


class _Story:
    def __init__(self, app: Any, clock: TravellingClock, now: datetime):
        self.app = app
        self.clock = clock
        self.end = now
        self.rng = random.Random(SEED)
        self.start_day = local_date(clock())
        self.end_day = local_date(now)
        self.today = self.start_day
        self.problems: list[str] = []
        self.people: dict[str, _Person] = {}
        self.units: dict[str, UUID] = {}
        self.unit_parent: dict[str, str] = {}
        self.unit_kind: dict[str, str] = {}
        self.actors: dict[tuple[str, str], Actor] = {}
        self.cache: dict[UUID, Finding] = {}
        self.specs: list[_Spec] = []
        self.circular_number: str | None = None
        self.case_id: UUID | None = None

    # Time ---------------------------------------------------------------
    def _working_days(self) -> None:
        self.calendar = self.app.rulebook(self.county_id).working_calendar()
        day, days = self.start_day, []
        while day <= self.end_day:
            if self.calendar.is_working_day(day):
                days.append(day)
            day += timedelta(days=1)
        self.wdays = days
        weeks_seen: set[tuple[int, int]] = set()
        self.review_days: set[date] = set()
        for day in days:
            week = day.isocalendar()[:2]
            if week not in weeks_seen:
                weeks_seen.add(week)
                self.review_days.add(day)

    @property
    def wd(self) -> int:
        """Index of today among the working days (of the next one, on a day off)."""
        return bisect_left(self.wdays, self.today)

    @property
    def wd_left(self) -> int:
        return len(self.wdays) - 1 - self.wd

    def _move_to(self, day: date, at: time) -> None:
        instant = datetime.combine(day, at, tzinfo=CHINA)
        if instant > self.end:
            raise _EndOfStory()
        if instant > self.clock():
            self.clock.set(instant)

    def _tick(self, low: int = 2, high: int = 12) -> None:
        """Move the clock on a few minutes before a person's step."""
        instant = self.clock() + timedelta(minutes=self.rng.randint(low, high))
        if instant > self.end:
            raise _EndOfStory()
        self.clock.set(instant)

    def _setup_tick(self) -> None:
        self.clock.advance(seconds=7)

    # People ---------------------------------------------------------------
    def _actor(self, login: str, role: str) -> Actor:
        key = (login, role)
        if key not in self.actors:
            self.actors[key] = self.app.actor(demo_id(f"user:{login}"), role)
        return self.actors[key]

    def _names(self) -> Iterator[tuple[str, str]]:
        rng = random.Random(SEED + 1)
        seen: set[str] = set()
        while True:
            surname, s_py = rng.choice(SURNAMES)
            given = rng.sample(GIVEN, 2 if rng.random() < 0.75 else 1)
            name = surname + "".join(g for g, _ in given)
            if name in seen:
                continue
            seen.add(name)
            yield name, s_py + "".join(p for _, p in given)

    def _people(self) -> list[_Person]:
        names = self._names()
        logins: set[str] = set()
        people: list[_Person] = []

        def person(unit: str, *roles: str) -> None:
            name, login = next(names)
            base, n = login, 2
            while login in logins:
                login, n = f"{base}{n}", n + 1
            logins.add(login)
            people.append(_Person(login, name, unit, roles))

        for _ in range(3):
            person(OFFICE_NAME, COMMAND)
        for _ in range(5):
            person(OFFICE_NAME, INSPECTOR)
        for _ in range(2):
            person(DISCIPLINE_NAME, DISCIPLINE)
        for town in (t for towns in ZONES.values() for t in towns):
            person(town, UNIT)
        for villages in VILLAGES.values():
            for village in villages:
                person(village, UNIT)  # the 驻村工作队队长
        for department in DEPARTMENTS:
            person(department, UNIT)
        for villages in VILLAGES.values():
            for village in villages:
                person(village, CADRE)
        for town in TOWN_CADRES:
            person(town, CADRE)
        return people

    def _by(self, unit: str, role: str) -> list[_Person]:
        return [p for p in self.people.values() if p.unit == unit and role in p.roles]

    # Act ------------------------------------------------------------------
    def _refresh(self, finding_id: UUID) -> Finding:
        self.cache[finding_id] = self.app.finding(finding_id)
        return self.cache[finding_id]

    def f(self, spec: _Spec) -> Finding:
        return self.cache[spec.id]

    def _on_finding(self, spec: _Spec, command: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._tick()
        recorded = command(spec.id, *args, **kwargs)
        self._refresh(spec.id)
        return recorded

    def sweep(self) -> None:
        """The system's morning run: every deadline that has passed is recorded once."""
        for finding_id, finding in list(self.cache.items()):
            if finding.is_missable(self.clock()):
                self.app.record_missed_deadline(finding_id, SYSTEM_ACTOR)
                self._refresh(finding_id)

    # Setting up the county --------------------------------------------------
    def setup(self) -> None:
        app = self.app

        def unit(name: str, kind: str, parent: str | None, actor: Actor, code: str = "") -> None:
            self._setup_tick()
            recorded = app.register_unit(
                name=name,
                kind=kind,
                parent_id=self.units[parent] if parent else None,
                actor=actor,
                code=code,
                unit_id=demo_id(f"unit:{name}"),
            )
            self.units[name] = recorded.id
            self.unit_kind[name] = kind
            if parent:
                self.unit_parent[name] = parent

        from app.auth.passwords import hash_password

        # One hash for everyone: hashing each user's copy would only slow the load.
        password_hash = hash_password(DEMO_PASSWORD)

        def user(p: _Person, actor: Actor) -> None:
            self._setup_tick()
            recorded = app.register_user(
                unit_id=self.units[p.unit],
                name=p.name,
                login=p.login,
                roles=list(p.roles),
                actor=actor,
                user_id=demo_id(f"user:{p.login}"),
            )
            app.set_password(recorded.id, password_hash, actor)

        try:
            unit(COUNTY_NAME, "county", None, SYSTEM_ACTOR, code=DOCUMENT_PREFIX)
        except ConcurrentChange as error:  # another loader got there first
            raise _StoreInUse() from error
        self.county_id = self.units[COUNTY_NAME]
        unit(OFFICE_NAME, "office", COUNTY_NAME, SYSTEM_ACTOR)
        people = self._people()
        self.people = {p.login: p for p in people}
        commanders = [p for p in people if COMMAND in p.roles]
        for p in commanders:
            user(p, SYSTEM_ACTOR)
        self.command = commanders[0].login
        admin = self._actor(self.command, COMMAND)

        unit(DISCIPLINE_NAME, "discipline", COUNTY_NAME, admin)
        for zone, towns in ZONES.items():
            unit(zone, "zone", COUNTY_NAME, admin)
            for town in towns:
                unit(town, "town", zone, admin)
                for village in VILLAGES[town]:
                    unit(village, "village", town, admin)
        for department in DEPARTMENTS:
            unit(department, "department", COUNTY_NAME, admin)
        for p in people:
            if COMMAND not in p.roles:
                user(p, admin)
        self._setup_tick()
        app.open_rulebook(self.county_id, DEFAULT_RULES, date(self.start_day.year, 1, 1), admin)
        self.rules = app.rules_in_force(self.county_id, self.start_day)
        self.inspectors = [p.login for p in people if INSPECTOR in p.roles]
        self.discipline = next(p.login for p in people if DISCIPLINE in p.roles)
        # The city's office reads the county (and would rank it among the city's others).
        self._setup_tick()
        region = app.register_region(name=REGION_NAME, level="city", region_id=demo_id(f"region:{REGION_NAME}")).id
        app.add_region_county(region, self.county_id)
        self._setup_tick()
        app.register_region_user(
            region_id=region, name=REGION_USER_NAME, login=REGION_LOGIN, user_id=demo_id(f"user:{REGION_LOGIN}")
        )
        app.set_password(demo_id(f"user:{REGION_LOGIN}"), password_hash, SYSTEM_ACTOR)

    # The findings ----------------------------------------------------------------
    def _household_number(self) -> str:
        """18 digits shaped like a resident ID of Mizhi (610827), with a valid check digit."""
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        while True:
            born = date(1940, 1, 1) + timedelta(days=self.rng.randint(0, 365 * 50))
            body = f"610827{born:%Y%m%d}{self.rng.randint(1, 999):03d}"
            check = (12 - sum(int(d) * w for d, w in zip(body, weights)) % 11) % 11
            if check < 10:
                return body + str(check)

    def _words(self) -> dict[str, Any]:
        month = self.start_day.month
        return fill_words(self.rng, (max(1, month - 4), month), self.start_day.year - 1)

    def _targets(self) -> list[tuple[str, CheckItem]]:
        """Distinct (unit, check item) pairs for the inspection: ~2/3 villages."""
        rng = self.rng
        villages = [v for vs in VILLAGES.values() for v in vs]
        towns = [t for ts in ZONES.values() for t in ts]
        village_items = [c for c in CHECK_ITEMS if c.target == "village"]
        town_items = [c for c in CHECK_ITEMS if c.target == "town"]
        dept_items = [c for c in CHECK_ITEMS if c.target == "department"]
        pairs: list[tuple[str, CheckItem]] = []
        # every village item at least once, then the rest at random
        chosen_villages = rng.sample(villages, len(villages))
        for i, village in enumerate(chosen_villages[:34]):
            item = village_items[i] if i < len(village_items) else rng.choice(village_items)
            pairs.append((village, item))
        for i, town in enumerate(rng.sample(towns, 8)):
            pairs.append((town, town_items[i % len(town_items)]))
        # each department's own item, and two departments late with their monthly data
        for item in dept_items:
            if item.departments != DEPARTMENTS:
                pairs += [(department, item) for department in item.departments]
        reporting = next(c for c in dept_items if c.departments == DEPARTMENTS)
        pairs += [(department, reporting) for department in rng.sample(DEPARTMENTS, 2)]
        rng.shuffle(pairs)  # each inspection day visits villages, towns and departments
        return pairs

    def _make_specs(self) -> None:
        rng = self.rng
        plans = [plan for plan, count in PHASE_ONE for _ in range(count)]
        targets = self._targets()
        assert len(plans) == len(targets), (len(plans), len(targets))
        rng.shuffle(plans)
        # Inspectors each take a share of the towns (对口指导) and the departments.
        towns = [t for ts in ZONES.values() for t in ts]
        inspector_of = {town: self.inspectors[i % len(self.inspectors)] for i, town in enumerate(towns)}
        for i, department in enumerate(DEPARTMENTS):
            inspector_of[department] = self.inspectors[(i + 2) % len(self.inspectors)]

        def town_of(unit: str) -> str:
            return self.unit_parent[unit] if self.unit_kind[unit] == "village" else unit

        for number, ((unit, check), plan) in enumerate(zip(targets, plans), start=1):
            spec = _Spec(
                number=number,
                unit=unit,
                check=check,
                severity=rng.choice(check.severities),
                plan=plan,
                inspector=inspector_of[town_of(unit)],
                file_wd=1 + (number - 1) * 6 // len(targets),
            )
            self._fill(spec)
            self.specs.append(spec)

        # Phase 2: routine checks, extractions and mutual checks near the end,
        # three of them repeating an earlier problem (same unit, same item).
        repeatable = [s for s in self.specs if s.plan in ("on_time", "rejected_once")]
        repeats = rng.sample(
            [s for s in repeatable if s.check.target == "village"], 2
        ) + rng.sample([s for s in repeatable if s.check.target != "village"], 1)
        late = [
            ("repeat_overdue", repeats[0].unit, repeats[0].check, X, "extraction", 12),
            ("repeat_rejected", repeats[1].unit, repeats[1].check, G, "routine", 15),
            ("repeat_late", repeats[2].unit, repeats[2].check, S, "extraction", 13),
            ("grave_overdue", None, None, X, "mutual", 11),
            ("awaiting_verification", None, None, G, "routine", 9),
            ("in_progress", None, None, G, "routine", 6),
            ("not_acknowledged", None, None, S, "extraction", 4),
            ("awaiting_notice", None, None, G, "routine", 1),
        ]
        used = {(s.unit, s.check.item) for s in self.specs}
        villages = [v for vs in VILLAGES.values() for v in vs]
        village_items = [c for c in CHECK_ITEMS if c.target == "village"]
        for plan, unit, check, severity, source, left in late:
            while unit is None or check is None or (not plan.startswith("repeat") and (unit, check.item) in used):
                unit, check = rng.choice(villages), rng.choice(village_items)
            if not plan.startswith("repeat"):
                used.add((unit, check.item))
            spec = _Spec(
                number=len(self.specs) + 1,
                unit=unit,
                check=check,
                severity=severity,
                plan=plan,
                source=source,
                inspector=inspector_of[town_of(unit)],
                file_left=left,
            )
            self._fill(spec)
            self.specs.append(spec)

    def _fill(self, spec: _Spec) -> None:
        spec.words = self._words()
        spec.description = spec.check.text.format(**spec.words)
        if spec.check.household:
            spec.household = self._household_number()
        kind = self.unit_kind[spec.unit]
        if kind == "village":
            cadres = [p.login for p in self._by(spec.unit, CADRE)]
            town = self.unit_parent[spec.unit]
            if self.rng.random() < 0.3:
                cadres += [p.login for p in self._by(town, CADRE)]
            spec.cadres = tuple(cadres) if spec.check.household or self.rng.random() < 0.5 else ()
        elif kind == "town":
            spec.cadres = tuple(p.login for p in self._by(spec.unit, CADRE))

    # Steps -------------------------------------------------------------------------
    def until(self, condition: Callable[[], bool]) -> Iterator[None]:
        while not condition():
            yield

    def after(self, working_days: int) -> Iterator[None]:
        target = self.wd + working_days
        yield from self.until(lambda: self.wd >= target)

    def _unit_actor(self, spec: _Spec) -> Actor:
        """Usually the unit's own user; now and then the town acting for its village."""
        unit = spec.unit
        if self.unit_kind[unit] == "village" and self.rng.random() < 0.2:
            unit = self.unit_parent[unit]
        return self._actor(self._by(unit, UNIT)[0].login, UNIT)

    def file(self, spec: _Spec) -> Iterator[None]:
        if spec.file_wd is not None:
            yield from self.until(lambda: self.wd >= spec.file_wd)
        else:
            yield from self.until(lambda: self.wd_left <= spec.file_left)
        self._tick(5, 20)
        self.app.file_finding(
            unit_id=self.units[spec.unit],
            category=spec.check.category,
            source=spec.source,
            severity=spec.severity,
            check_item=spec.check.item,
            description=spec.description,
            actor=self._actor(spec.inspector, INSPECTOR),
            inspection_id=self.inspection_id if spec.source == "inspection" else None,
            household_no=spec.household,
            cadre_ids=[demo_id(f"user:{c}") for c in spec.cadres],
            finding_id=spec.id,
        )
        self._refresh(spec.id)

    def notice(self, spec: _Spec, delay: int = 1) -> Iterator[None]:
        yield from self.after(delay)
        self._on_finding(spec, self.app.issue_notice, self._actor(self.command, COMMAND))

    def acknowledge(self, spec: _Spec, delay: int | None = None) -> Iterator[None]:
        yield from self.after(self.rng.choice((0, 1, 1, 2)) if delay is None else delay)
        self._on_finding(spec, self.app.acknowledge_notice, self._unit_actor(spec))

    def _deadline(self, spec: _Spec) -> date:
        return date.fromisoformat(self.f(spec).deadline or "9999-12-31")

    def submit(self, spec: _Spec, days_before_deadline: int | None = None, left: int | None = None) -> Iterator[None]:
        """On the first working day at or after ``deadline - days`` (negative: late),
        or when ``left`` working days remain, whichever comes first."""

        def due() -> bool:
            if left is not None and self.wd_left <= left:
                return True
            if days_before_deadline is None:
                return False
            return self.today >= self._deadline(spec) - timedelta(days=days_before_deadline)

        yield from self.until(due)
        text = spec.check.fix.format(**spec.words)
        self._on_finding(
            spec, self.app.submit_rectification, text, self._unit_actor(spec), evidence=EVIDENCE[spec.check.category]
        )

    def verify(self, spec: _Spec, accept: bool, delay: int | None = None) -> Iterator[None]:
        yield from self.after(self.rng.choice((1, 1, 2, 3)) if delay is None else delay)
        inspector = self._actor(spec.inspector, INSPECTOR)
        if accept:
            self._on_finding(spec, self.app.accept_rectification, inspector, note=self.rng.choice(ACCEPT_NOTES))
        else:
            reason = "整改不到位：" + spec.check.not_good_enough.format(**spec.words)
            self._on_finding(spec, self.app.reject_rectification, reason, inspector)

    def extension(self, spec: _Spec, grant: bool, extra_days: int) -> Iterator[None]:
        yield from self.until(lambda: self.today >= self._deadline(spec) - timedelta(days=3))
        until = self._deadline(spec) + timedelta(days=extra_days)
        self._on_finding(
            spec, self.app.request_extension, until, self.rng.choice(EXTENSION_REASONS), self._unit_actor(spec)
        )
        yield from self.after(1)
        command = self._actor(self.command, COMMAND)
        if grant:
            self._on_finding(spec, self.app.grant_extension, command, note="情况属实，同意延期。")
        else:
            self._on_finding(spec, self.app.deny_extension, self.rng.choice(DENIAL_REASONS), command)

    def escalate(self, spec: _Spec) -> Iterator[None]:
        """The command office's weekly review confirms what the rules propose."""
        yield from self.until(
            lambda: self.today in self.review_days
            and self.f(spec).escalation_due(self.rules, self.today) is not None
        )
        rule = self.app.escalation_due(spec.id)
        reason = f"{spec.unit}对“{spec.check.item}”问题{rule}，属拒不整改情形，经指挥部研究，移交县纪委监委。"
        self._on_finding(spec, self.app.escalate, reason, self._actor(self.command, COMMAND))

    def missed(self, spec: _Spec) -> Iterator[None]:
        yield from self.until(lambda: bool(self.f(spec).missed_deadlines))

    def _first(self, plan: str) -> _Spec:
        return next(s for s in self.specs if s.plan == plan)

    def script(self, spec: _Spec) -> Iterator[None]:
        """One finding's life, by its plan."""
        rng = self.rng
        yield from self.file(spec)
        plan = spec.plan
        if plan == "withdrawn_before_notice":
            yield from self.after(1)
            self._on_finding(spec, self.app.withdraw_finding, WITHDRAW_REASONS[1], self._actor(spec.inspector, INSPECTOR))
            return
        if plan == "awaiting_notice":
            yield from self.after(3)  # the office has not got to it yet
        yield from self.notice(spec, delay=rng.choice((0, 1, 1)))
        if plan == "not_acknowledged":
            return
        if plan == "never_rectified" and spec is self._first("never_rectified"):
            return  # not even acknowledged: open and overdue
        yield from self.acknowledge(spec)

        if plan == "on_time":
            yield from self.submit(spec, rng.randint(1, 4))
            yield from self.verify(spec, True)
        elif plan in ("late", "repeat_late"):
            yield from self.submit(spec, -rng.randint(2, 6))
            yield from self.verify(spec, True)
        elif plan == "repeat_rejected":
            yield from self.submit(spec, 7)
            yield from self.verify(spec, False, delay=1)
            yield from self.acknowledge(spec, delay=0)
            yield from self.submit(spec, 2, left=1)
        elif plan == "rejected_once":
            yield from self.submit(spec, rng.randint(1, 3))
            yield from self.verify(spec, False)
            yield from self.acknowledge(spec)
            yield from self.submit(spec, rng.randint(1, 2), left=2)
            yield from self.verify(spec, True)
        elif plan == "resubmitted_at_end":
            yield from self.submit(spec, -2)
            yield from self.verify(spec, False)
            yield from self.acknowledge(spec)
            yield from self.submit(spec, left=1)
        elif plan in ("rejected_twice_refuses", "rejected_twice_then_closed"):
            yield from self.submit(spec, 2)
            yield from self.verify(spec, False)
            yield from self.acknowledge(spec)
            yield from self.submit(spec, 1)
            yield from self.verify(spec, False)
            yield from self.escalate(spec)
            if plan == "rejected_twice_then_closed":
                yield from self.submit(spec, 1)
                yield from self.verify(spec, True)
        elif plan == "never_rectified":
            yield from self.escalate(spec)
        elif plan == "late_rejected_stalled":
            yield from self.submit(spec, -3)
            yield from self.verify(spec, False)
        elif plan == "extension_granted":
            yield from self.extension(spec, True, rng.randint(7, 14))
            yield from self.submit(spec, rng.randint(1, 3), left=2)
            yield from self.verify(spec, True)
        elif plan == "extension_granted_missed":
            yield from self.extension(spec, True, 7)
        elif plan == "extension_denied_late":
            yield from self.extension(spec, False, 10)
            yield from self.submit(spec, -rng.randint(2, 5))
            yield from self.verify(spec, True)
        elif plan == "extension_denied_on_time":
            yield from self.extension(spec, False, 10)
            yield from self.submit(spec, 0)
            yield from self.verify(spec, True)
        elif plan == "withdrawn_after_notice":
            yield from self.after(2)
            self._on_finding(spec, self.app.withdraw_finding, WITHDRAW_REASONS[0], self._actor(spec.inspector, INSPECTOR))
        elif plan == "appeal_upheld":
            yield from self.missed(spec)
            yield from self.after(2)
            self._on_finding(
                spec, self.app.submit_rectification, spec.check.fix.format(**spec.words), self._unit_actor(spec),
                evidence=EVIDENCE[spec.check.category],
            )  # fmt: skip
            yield from self.after(1)
            overdue = next(d for d in self.f(spec).deductions.values() if d.rule_id == OVERDUE and not d.reversed)
            self._on_finding(
                spec, self.app.reverse_deduction, overdue.number, rng.choice(APPEAL_REASONS),
                self._actor(self.command, COMMAND),
            )  # fmt: skip
            yield from self.verify(spec, True)
        elif plan == "awaiting_verification":
            yield from self.submit(spec, 1, left=1)
        # in_progress, grave_overdue, repeat_overdue: acknowledged, then nothing yet

    # County-wide steps -----------------------------------------------------------
    def inspection(self) -> Iterator[None]:
        first = self.wdays[1]
        self.inspection_title = f"{first.year}年第{CN_QUARTER[(first.month - 1) // 3 + 1]}季度扶贫信息数据质量督查"
        self.inspection_id = demo_id(f"inspection:{self.inspection_title}")
        self._tick()
        self.app.plan_inspection(
            county_id=self.county_id,
            title=self.inspection_title,
            source="inspection",
            inspector_ids=[demo_id(f"user:{login}") for login in self.inspectors],
            starts_on=self.wdays[1],
            ends_on=self.wdays[min(7, len(self.wdays) - 1)],
            actor=self._actor(self.command, COMMAND),
            inspection_id=self.inspection_id,
        )
        last_filing = max(s.file_wd or 0 for s in self.specs)
        yield from self.until(lambda: self.wd > last_filing + 1)
        filed = [s for s in self.specs if s.file_wd is not None]
        units = {s.unit for s in filed}
        summary = (
            f"本次督查共抽查行政村、街镇和行业部门{len(units)}个，发现数据信息缺项、漏项、不规范、更新不及时等问题"
            f"{len(filed)}个，均已建立问题台账，下发整改通知，限期整改。"
        )
        self._tick()
        self.app.complete_inspection(self.inspection_id, summary, self._actor(self.command, COMMAND))

    def _overdue_by_unit(self) -> dict[str, list[_Spec]]:
        units: dict[str, list[_Spec]] = {}
        for spec in self.specs:
            finding = self.cache.get(spec.id)
            if finding and finding.status in RECTIFYING and finding.deadline_number in finding.missed_deadlines:
                units.setdefault(spec.unit, []).append(spec)
        return units

    def circular(self) -> Iterator[None]:
        yield from self.until(
            lambda: (self.wd >= 20 and len(self._overdue_by_unit()) >= 2)
            or (self.wd_left <= 4 and len(self._overdue_by_unit()) >= 1)
        )
        overdue = self._overdue_by_unit()
        listed = sorted(overdue, key=lambda u: (-len(overdue[u]), self.specs.index(overdue[u][0])))[:3]
        findings = [s for u in listed for s in overdue[u]]
        today = self.today
        title = f"关于{self.inspection_title}问题整改不力单位的通报"
        lines = "\n".join(
            f"    {i}. {unit}：{'；'.join(s.check.item for s in overdue[unit])}，逾期未整改。"
            for i, unit in enumerate(listed, start=1)
        )
        body = (
            "各街镇、县直各相关部门：\n"
            f"    县脱贫攻坚指挥部办公室组织开展了{self.inspection_title}，对发现的问题建立了问题台账，"
            "通报到四支队伍和帮扶责任人，限期整改。截至"
            f"{today.year}年{today.month}月{today.day}日，仍有部分单位整改不及时、不到位。现将有关情况通报如下：\n"
            f"    一、逾期未整改单位\n{lines}\n"
            "    二、有关要求\n"
            "    被通报单位要认真反思，立即研究整改措施，于5个工作日内完成整改，并将整改情况书面报县脱贫攻坚指挥部办公室。"
            "对整改不及时、不到位的，将进行效能考评扣分；对拒不整改的，移交县纪委监委严肃问责。"
        )
        command = self._actor(self.command, COMMAND)
        self._tick()
        drafted = self.app.draft_circular(
            county_id=self.county_id,
            kind="criticism",
            title=title,
            prefix=DOCUMENT_PREFIX,
            period=period_of(today, self.rules.rules.period),
            body=body,
            finding_ids=[s.id for s in findings],
            unit_ids=[self.units[u] for u in listed],
            actor=command,
        )
        yield from self.after(1)
        self._tick()
        self.circular_number = self.app.issue_circular(drafted.id, command).value

    def case(self) -> Iterator[None]:
        refusing = self._first("rejected_twice_refuses")

        def escalated() -> _Spec | None:
            if refusing.id in self.cache and self.f(refusing).escalated:
                return refusing
            if self.wd_left <= 4:
                return next((s for s in self.specs if s.id in self.cache and self.f(s).escalated), None)
            return None

        yield from self.until(lambda: escalated() is not None)
        spec = escalated()
        assert spec is not None
        yield from self.after(2)
        actor = self._actor(self.discipline, DISCIPLINE)
        self._tick()
        opened = self.app.open_case(
            county_id=self.county_id,
            summary=f"县脱贫攻坚指挥部移交：{spec.unit}对督查发现的“{spec.check.item}”问题拒不整改。",
            actor=actor,
            finding_ids=[spec.id],
            subject_unit_id=self.units[spec.unit],
        )
        self.case_id = opened.id
        yield from self.after(3)
        leader = self._by(spec.unit, UNIT)[0]
        title = "驻村工作队队长" if self.unit_kind[spec.unit] == "village" else "主要负责人"
        self._tick()
        self.app.record_sanction(
            opened.id,
            "talk",
            f"{spec.unit}{title}{leader.name}",
            "由县纪委监委对其进行约谈，指出其对督查问题整改敷衍应付，责令5个工作日内整改到位并作出书面说明。",
            actor,
        )

    # Running ---------------------------------------------------------------------
    def run(self) -> DemoSummary:
        start = self.clock()
        self.setup()
        self._working_days()
        self._make_specs()
        scripts: list[tuple[str, Iterator[None]]] = [("inspection", self.inspection())]
        scripts += [(f"finding {s.number} ({s.plan})", self.script(s)) for s in self.specs]
        scripts += [("circular", self.circular()), ("case", self.case())]
        try:
            self._move_to(self.today, OPENING)
            self._day(scripts)
            day = self.start_day
            while day < self.end_day:
                day += timedelta(days=1)
                self.today = day
                self._move_to(day, SWEEP)
                self.sweep()
                if self.calendar.is_working_day(day):
                    self._move_to(day, OPENING)
                    self._day(scripts)
        except _EndOfStory:
            pass
        self.today = self.end_day
        self.clock.set(self.end)
        self.sweep()
        return self._summary(start)

    def _day(self, scripts: list[tuple[str, Iterator[None]]]) -> None:
        for entry in list(scripts):
            name, steps = entry
            try:
                next(steps)
            except StopIteration:
                scripts.remove(entry)
            except DomainError as error:
                self.problems.append(f"{name} on {self.today}: {error.message}")
                scripts.remove(entry)

    def _summary(self, start: datetime) -> DemoSummary:
        findings = [self.cache[s.id] for s in self.specs if s.id in self.cache]
        counts = Counter(f.status for f in findings)
        overdue = sum(
            1 for f in findings if f.status in RECTIFYING and f.deadline_number in f.missed_deadlines
        )
        by_role: dict[str, tuple[int, str]] = {}
        for role in (COMMAND, INSPECTOR, UNIT, CADRE, DISCIPLINE):
            holders = [p for p in self.people.values() if role in p.roles]
            if role == UNIT:  # show a village team leader, the commonest unit user
                holders.sort(key=lambda p: self.unit_kind[p.unit] != "village")
            by_role[role] = (len(holders), holders[0].login)
        by_role[REGION] = (1, REGION_LOGIN)
        return DemoSummary(
            county_id=self.county_id,
            county_name=COUNTY_NAME,
            inspection_id=self.inspection_id,
            inspection_title=self.inspection_title,
            started_at=start,
            ended_at=self.end,
            finding_ids=tuple(f.id for f in findings),
            counts_by_status={s: counts.get(s, 0) for s in STATUSES},
            overdue_now=overdue,
            events_written=self.app.position(),
            users_by_role=by_role,
            circular_number=self.circular_number,
            case_id=self.case_id,
            problems=tuple(self.problems),
        )

