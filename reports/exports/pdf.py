"""PDF documents: a case's trail (每条记录及其哈希) and the yearly report of an organization
(figures and charts). reportlab with its built-in CID font STSong-Light for Chinese (the
viewer supplies the glyphs: nothing to install or embed); charts are reportlab graphics, so
the PDF is vector throughout."""

import io
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from . import labels as zh
from . import tables

FONT = "STSong-Light"
MONO = "Courier"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

SERIES_COLORS = (colors.HexColor("#b3261e"), colors.HexColor("#1a5fb4"), colors.HexColor("#146c2e"))
GRID = colors.HexColor("#d9d4dc")
HEAD = colors.HexColor("#f3d9d7")


def _styles():
    base = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle(
            "title", parent=base, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=4
        ),
        "subtitle": ParagraphStyle("subtitle", parent=base, alignment=TA_CENTER, fontSize=10),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=13, leading=20, spaceBefore=10, keepWithNext=1
        ),
        "body": base,
        # A section's opening text stays on the page of what it introduces.
        "lead": ParagraphStyle("lead", parent=base, spaceAfter=2 * mm, keepWithNext=1),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
        "mono": ParagraphStyle(
            "mono", parent=base, fontName=MONO, fontSize=6, leading=8, wordWrap=None
        ),
    }


def _p(text, style):
    return Paragraph(escape(str(text)), style)


def _day(value):
    return f"{value.year}年{value.month}月{value.day}日"


def _moment(value):
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S}"


def _percent(rate):
    if rate is None:
        return "—"
    return f"{(rate * 100).quantize(Decimal('0.01'))}%"


def _money(amount):
    return f"{amount:,.2f}"


def _number(value):
    return "—" if value is None else str(value)


def _footer(text):
    def draw(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        width = doc.pagesize[0]
        canvas.drawCentredString(width / 2, 8 * mm, f"{text}　第 {doc.page} 页")
        canvas.restoreState()

    return draw


def _table(rows, widths, *, header_rows=1, align_right_from=None):
    table = Table(rows, colWidths=widths, repeatRows=header_rows)
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if align_right_from is not None:
        style.append(("ALIGN", (align_right_from, header_rows), (-1, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    return table


# --- the trail -------------------------------------------------------------------------------


def trail_pdf(case, events, verification):
    """Every event of the case's trail with its hash, and whether the chain verifies."""
    styles = _styles()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=16 * mm,
        title=f"{case.number} 审计轨迹",
    )
    if verification.valid:
        state = f"哈希链校验通过：共 {verification.events} 条记录，未发现篡改。"
    else:
        state = (
            f"哈希链校验未通过：共 {verification.events} 条记录，"
            f"自第 {verification.broken_at} 条起链条断裂。"
        )
    story = [
        _p(f"案件审计轨迹　{case.number}", styles["title"]),
        _p(
            f"{zh.label(zh.PROCESS, case.process)}　{case.title}　所属组织：{case.organization.name}"
            f"　状态：{zh.label(zh.STATUS, case.status)}",
            styles["subtitle"],
        ),
        Spacer(1, 4 * mm),
        _p(state, styles["body"]),
        Spacer(1, 3 * mm),
    ]
    rows = [["序号", "时间", "操作", "操作人（角色）", "环节", "意见与数据", "哈希（SHA-256）"]]
    for event in events:
        who = tables.actor_text(event)
        if event.actor_role:
            who = f"{who}（{zh.role(event.actor_role)}）"
        if event.on_behalf_of_id:
            who = f"{who}，代 {tables._person(event.on_behalf_of)}"
        detail = event.comment
        if event.data:
            data = tables.data_text(event)
            detail = f"{detail}\n{data[:400]}" if detail else data[:400]
        rows.append(
            [
                str(event.seq),
                _p(_moment(event.at), styles["cell"]),
                _p(zh.action(event.action), styles["cell"]),
                _p(who, styles["cell"]),
                _p(zh.step_label(case.process, event.step) if event.step else "", styles["cell"]),
                _p(detail, styles["cell"]),
                Paragraph(event.hash, styles["mono"]),
            ]
        )
    # The hash column fits 64 hex digits of 6 pt Courier on one line.
    widths = [10 * mm, 24 * mm, 26 * mm, 40 * mm, 22 * mm, 63 * mm, 88 * mm]
    story.append(_table(rows, widths))
    doc.build(
        story,
        onFirstPage=_footer(f"{case.number} 审计轨迹"),
        onLaterPages=_footer(f"{case.number} 审计轨迹"),
    )
    return out.getvalue()


# --- charts -----------------------------------------------------------------------------------


def _legend(drawing, x, y, names):
    """Swatches and names in one row from (x, y)."""
    legend = Legend()
    legend.x, legend.y = x, y
    legend.fontName = FONT
    legend.fontSize = 8
    legend.alignment = "right"
    legend.columnMaximum = 1
    legend.dx = legend.dy = 8
    legend.dxTextSpace = 4
    legend.deltax = max(pdfmetrics.stringWidth(n, FONT, 8) for n in names) + 24
    legend.colorNamePairs = list(zip(SERIES_COLORS, names, strict=False))
    drawing.add(legend)


def _chart_title(drawing, text, width):
    drawing.add(
        String(
            width / 2, drawing.height - 12, text, fontName=FONT, fontSize=10, textAnchor="middle"
        )
    )


def _axis_fonts(chart):
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0


def _nice_max(values):
    top = max([float(v) for v in values] + [1.0])
    return top * 1.15


def grouped_bar_chart(title, categories, series, names, width=170 * mm, height=62 * mm):
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 40, 32
    chart.width, chart.height = width - 60, height - 60
    chart.data = [[float(v) for v in s] for s in series]
    chart.categoryAxis.categoryNames = list(categories)
    _axis_fonts(chart)
    _count_axis(chart, [v for s in series for v in s])
    chart.barSpacing = 2
    chart.groupSpacing = 10
    for index in range(len(series)):
        chart.bars[index].fillColor = SERIES_COLORS[index % len(SERIES_COLORS)]
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    _chart_title(drawing, title, width)
    if len(names) > 1:
        _legend(drawing, 40, height - 22, names)
    return drawing


def _count_axis(chart, values):
    """Whole steps on an axis of counts (no 0.2 of a case)."""
    top = max([int(v) for v in values] + [1])
    chart.valueAxis.valueStep = max(1, -(-top // 5))
    chart.valueAxis.valueMax = chart.valueAxis.valueStep * (
        -(-top // chart.valueAxis.valueStep) + 1
    )


def bar_chart(title, categories, values, *, money=False, width=170 * mm, height=60 * mm):
    """Horizontal bars, the first category on top: long Chinese names read better along the
    left."""
    categories, values = list(categories)[::-1], list(values)[::-1]
    drawing = Drawing(width, height)
    chart = HorizontalBarChart()
    chart.x, chart.y = 110, 12
    chart.width, chart.height = width - 150, height - 34
    chart.data = [[float(v) for v in values]]
    chart.categoryAxis.categoryNames = categories
    _axis_fonts(chart)
    if money:
        chart.valueAxis.valueMax = _nice_max(values)
    else:
        _count_axis(chart, values)
    chart.bars[0].fillColor = SERIES_COLORS[0]
    chart.bars[0].strokeColor = None
    chart.barLabelFormat = (lambda v: f"{v:,.2f}") if money else "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.boxAnchor = "w"
    chart.barLabels.dx = 3
    drawing.add(chart)
    _chart_title(drawing, title, width)
    return drawing


def line_chart(title, categories, series, names, width=170 * mm, height=62 * mm):
    drawing = Drawing(width, height)
    chart = HorizontalLineChart()
    chart.x, chart.y = 40, 32
    chart.width, chart.height = width - 60, height - 60
    chart.data = [[float(v) for v in s] for s in series]
    chart.categoryAxis.categoryNames = list(categories)
    _axis_fonts(chart)
    _count_axis(chart, [v for s in series for v in s])
    for index in range(len(series)):
        chart.lines[index].strokeColor = SERIES_COLORS[index % len(SERIES_COLORS)]
        chart.lines[index].strokeWidth = 1.5
    drawing.add(chart)
    _chart_title(drawing, title, width)
    _legend(drawing, 40, height - 22, names)
    return drawing


# --- the yearly report -------------------------------------------------------------------------


def yearly_pdf(summary, year):
    """年度工作统计报告: the year's figures of the organization's subtree, with charts."""
    styles = _styles()
    org = summary["organization"]["name"]
    period = summary["period"]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"{org}{year}年度工作统计报告",
    )
    body, lead, h2 = styles["body"], styles["lead"], styles["h2"]
    story = [
        _p(f"{org}", styles["title"]),
        _p(f"{year}年度工作统计报告", styles["title"]),
        _p(
            f"统计期间：{_day(period['from'])}至{_day(period['to'])}　"
            f"统计时点：{_moment(period['as_of'])}",
            styles["subtitle"],
        ),
        Spacer(1, 6 * mm),
    ]

    # 一、总体情况
    processes = summary["processes"]
    names = [zh.PROCESS[p["process"]] for p in processes]
    rows = [["流程", "新立案件", "办结案件", "期末在办", "期末逾期"]]
    rows += [
        [zh.PROCESS[p["process"]], p["opened"], p["finished"], p["in_progress"], p["overdue"]]
        for p in processes
    ]
    opened_total = sum(p["opened"] for p in processes)
    finished_total = sum(p["finished"] for p in processes)
    story += [
        KeepTogether(
            [
                _p("一、案件办理总体情况", h2),
                _p(
                    f"本年度共新立案件{opened_total}件，办结{finished_total}件；"
                    f"截至统计时点在办{sum(p['in_progress'] for p in processes)}件，"
                    f"其中逾期{sum(p['overdue'] for p in processes)}件。",
                    lead,
                ),
                _table(rows, [45 * mm, 30 * mm, 30 * mm, 30 * mm, 30 * mm], align_right_from=1),
            ]
        ),
        Spacer(1, 3 * mm),
        grouped_bar_chart(
            "各流程新立与办结案件数",
            names,
            [[p["opened"] for p in processes], [p["finished"] for p in processes]],
            ["新立", "办结"],
        ),
    ]
    monthly = summary["monthly"]
    story.append(
        KeepTogether(
            line_chart(
                "各月新立案件数",
                [m["month"][5:] + "月" for m in monthly],
                [[m[p] for m in monthly] for p in zh.PROCESS],
                list(zh.PROCESS.values()),
            )
        )
    )

    # 二、困难职工帮扶
    h = summary["hardship"]
    rows = [["救助类型", "帮扶户数", "批准件数", "批准金额（元）", "发放件数", "发放金额（元）"]]
    rows += [
        [
            zh.AID_TYPE[t["aid_type"]],
            t["households"],
            t["approved_cases"],
            _money(t["approved_amount"]),
            t["disbursed_cases"],
            _money(t["disbursed_amount"]),
        ]
        for t in h["by_aid_type"]
    ]
    rows.append(
        [
            "合计",
            h["households_helped"],
            h["approved"]["cases"],
            _money(h["approved"]["amount"]),
            h["disbursed"]["cases"],
            _money(h["disbursed"]["amount"]),
        ]
    )
    categories = "；".join(
        f"{zh.HARDSHIP_CATEGORY[c['category']]}{c['households']}户"
        for c in h["by_category"]
        if c["households"]
    )
    story += [
        KeepTogether(
            [
                _p("二、困难职工帮扶", h2),
                _p(
                    f"本年度共帮扶困难职工家庭{h['households_helped']}户，"
                    f"批准帮扶{h['approved']['cases']}件、金额{_money(h['approved']['amount'])}元，"
                    f"发放帮扶资金{h['disbursed']['cases']}件、金额{_money(h['disbursed']['amount'])}元。"
                    + (f"按困难类别：{categories}。" if categories else ""),
                    lead,
                ),
                _table(
                    rows,
                    [30 * mm, 22 * mm, 22 * mm, 32 * mm, 22 * mm, 32 * mm],
                    align_right_from=1,
                ),
            ]
        ),
        Spacer(1, 3 * mm),
        KeepTogether(
            bar_chart(
                "各救助类型发放金额（元）",
                [zh.AID_TYPE[t["aid_type"]] for t in h["by_aid_type"]],
                [t["disbursed_amount"] for t in h["by_aid_type"]],
                money=True,
            )
        ),
    ]

    # 三、劳动争议调解
    m = summary["mediation"]
    received = sum(c["opened"] for c in m["by_category"])
    rows = [["争议类别", "受理申请数"]]
    rows += [[zh.MEDIATION_CATEGORY[c["category"]], c["opened"]] for c in m["by_category"]]
    outcomes = [(zh.OUTCOME.get(o, o), n) for o, n in m["outcomes"].items()]
    story += [
        KeepTogether(
            [
                _p("三、劳动争议调解", h2),
                _p(
                    f"本年度收到调解申请{received}件，调解结案{m['closed']}件，其中达成协议并生效"
                    f"{m['agreements']}件，调解成功率{_percent(m['success_rate'])}；"
                    f"结案天数中位数{_number(m['median_days_to_close'])}天，"
                    f"法定期限内结案{m['closed_within_term']}件，占{_percent(m['within_term_rate'])}。",
                    lead,
                ),
                _table(rows, [80 * mm, 30 * mm], align_right_from=1),
            ]
        ),
        Spacer(1, 3 * mm),
        KeepTogether(
            bar_chart(
                "办结案件结果（件）", [name for name, _n in outcomes], [n for _name, n in outcomes]
            )
        ),
    ]

    # 四、工会经费上解
    r = summary["remittance"]
    rows = [
        ["项目", "件数", "金额（元）"],
        ["申报（应上解）", r["declarations"], _money(r["upper_share"])],
        ["已缴款", r["paid"]["count"], _money(r["paid"]["amount"])],
        ["已核收", r["verified"]["count"], _money(r["verified"]["amount"])],
        ["逾期未缴", r["unpaid_overdue"]["count"], _money(r["unpaid_overdue"]["upper_share"])],
    ]
    story += [
        KeepTogether(
            [
                _p("四、工会经费上解", h2),
                _p(
                    f"本年度各基层工会申报经费{r['declarations']}件，应拨缴经费{_money(r['fund_due'])}元，"
                    f"应上解{_money(r['upper_share'])}元；按期缴款{r['paid_on_time']}件、逾期缴款"
                    f"{r['paid_late']}件，按期缴款率{_percent(r['on_time_rate'])}，"
                    f"收取滞纳金{_money(r['late_fees'])}元。",
                    lead,
                ),
                _table(rows, [50 * mm, 30 * mm, 40 * mm], align_right_from=1),
            ]
        ),
    ]

    # 五、办理时长
    rows = [list(tables.TASK_HEADERS)]
    rows += [
        [_p(v, styles["cell"]) if isinstance(v, str) else _number(v) for v in values]
        for values in tables.task_table(summary)
    ]
    story += [
        KeepTogether(
            [
                _p("五、各环节办理时长", h2),
                _p(
                    "时长自待办生成起至办结止；超期完成指办结时已过办理期限，"
                    "期末逾期指统计时点仍未办结且已过期限。",
                    lead,
                ),
                _table(
                    [[_p(h, styles["cell"]) for h in rows[0]], *rows[1:]],
                    [28 * mm, 30 * mm, 18 * mm, 26 * mm, 28 * mm, 22 * mm, 22 * mm],
                    align_right_from=2,
                ),
            ]
        ),
        Spacer(1, 6 * mm),
        _p(f"本报告由系统根据办理数据自动生成，生成时间：{_moment(timezone.now())}。", body),
    ]
    footer = _footer(f"{org}{year}年度工作统计报告")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
