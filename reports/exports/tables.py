"""What goes into the files, independent of the format: the summary as rows of
(section, figure, item, value, kind), and the columns of case lists and trails. `kind` tells
each writer how to show a value: int, money, rate, days, hours, text, date, datetime."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from . import labels as zh


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    item: str
    value: object
    kind: str = "int"


SUMMARY_HEADERS = ("板块", "指标", "分项", "数值")
TASK_HEADERS = (
    "流程",
    "环节",
    "完成数",
    "中位时长（小时）",
    "90%分位时长（小时）",
    "超期完成数",
    "期末逾期数",
)
TASK_KINDS = ("text", "text", "int", "hours", "hours", "int", "int")
MONTHLY_HEADERS = ("月份", *zh.PROCESS.values())

TOTAL = "合计"


def step_name(row):
    return zh.step_label(row["process"], row["step"], row.get("title", ""))


def summary_rows(summary):
    """Every figure of a summary (reports.selectors.summary) as one flat table."""
    rows = []
    section = "案件总体"
    for p in summary["processes"]:
        name = zh.PROCESS[p["process"]]
        rows += [
            Row(section, "新立案件", name, p["opened"]),
            Row(section, "办结案件", name, p["finished"]),
            *(
                Row(section, f"办结案件：{zh.STATUS[status]}", name, count)
                for status, count in p["finished_by_status"].items()
            ),
            Row(section, "期末在办", name, p["in_progress"]),
            Row(section, "期末逾期", name, p["overdue"]),
        ]

    section = zh.PROCESS["hardship"]
    h = summary["hardship"]
    rows += [
        Row(section, "帮扶户数", TOTAL, h["households_helped"]),
        Row(section, "批准件数", TOTAL, h["approved"]["cases"]),
        Row(section, "批准金额（元）", TOTAL, h["approved"]["amount"], "money"),
        Row(section, "发放件数", TOTAL, h["disbursed"]["cases"]),
        Row(section, "发放金额（元）", TOTAL, h["disbursed"]["amount"], "money"),
    ]
    for t in h["by_aid_type"]:
        item = f"救助类型：{zh.AID_TYPE[t['aid_type']]}"
        rows += [
            Row(section, "帮扶户数", item, t["households"]),
            Row(section, "批准件数", item, t["approved_cases"]),
            Row(section, "批准金额（元）", item, t["approved_amount"], "money"),
            Row(section, "发放件数", item, t["disbursed_cases"]),
            Row(section, "发放金额（元）", item, t["disbursed_amount"], "money"),
        ]
    for c in h["by_category"]:
        item = f"困难类别：{zh.HARDSHIP_CATEGORY[c['category']]}"
        rows += [
            Row(section, "帮扶户数", item, c["households"]),
            Row(section, "发放件数", item, c["disbursed_cases"]),
            Row(section, "发放金额（元）", item, c["disbursed_amount"], "money"),
        ]

    section = zh.PROCESS["mediation"]
    m = summary["mediation"]
    for c in m["by_category"]:
        rows.append(
            Row(
                section,
                "受理申请数",
                f"争议类别：{zh.MEDIATION_CATEGORY[c['category']]}",
                c["opened"],
            )
        )
    for outcome, count in m["outcomes"].items():
        rows.append(Row(section, "办结结果", zh.OUTCOME.get(outcome, outcome), count))
    rows += [
        Row(section, "调解结案数", TOTAL, m["closed"]),
        Row(section, "达成协议数", TOTAL, m["agreements"]),
        Row(section, "调解成功率", TOTAL, m["success_rate"], "rate"),
        Row(section, "结案天数中位数", TOTAL, m["median_days_to_close"], "days"),
        Row(section, "法定期限内结案数", TOTAL, m["closed_within_term"]),
        Row(section, "法定期限内结案率", TOTAL, m["within_term_rate"], "rate"),
    ]

    section = zh.PROCESS["remittance"]
    r = summary["remittance"]
    rows += [
        Row(section, "申报件数", TOTAL, r["declarations"]),
        Row(section, "应拨缴经费（元）", TOTAL, r["fund_due"], "money"),
        Row(section, "应上解经费（元）", TOTAL, r["upper_share"], "money"),
        Row(section, "已缴款件数", TOTAL, r["paid"]["count"]),
        Row(section, "已缴款金额（元）", TOTAL, r["paid"]["amount"], "money"),
        Row(section, "已核收件数", TOTAL, r["verified"]["count"]),
        Row(section, "已核收金额（元）", TOTAL, r["verified"]["amount"], "money"),
        Row(section, "按期缴款件数", TOTAL, r["paid_on_time"]),
        Row(section, "逾期缴款件数", TOTAL, r["paid_late"]),
        Row(section, "按期缴款率", TOTAL, r["on_time_rate"], "rate"),
        Row(section, "滞纳金（元）", TOTAL, r["late_fees"], "money"),
        Row(section, "逾期未缴件数", TOTAL, r["unpaid_overdue"]["count"]),
        Row(section, "逾期未缴上解金额（元）", TOTAL, r["unpaid_overdue"]["upper_share"], "money"),
    ]

    section = "办理时长"
    for t in summary["tasks"]:
        name = f"{zh.PROCESS[t['process']]}·{step_name(t)}"
        rows += [
            Row(section, name, "完成数", t["completed"]),
            Row(section, name, "中位时长（小时）", t["median_hours"], "hours"),
            Row(section, name, "90%分位时长（小时）", t["p90_hours"], "hours"),
            Row(section, name, "超期完成数", t["late"]),
            Row(section, name, "期末逾期数", t["overdue"]),
        ]

    section = "月度新立案件"
    for month in summary["monthly"]:
        for process, name in zh.PROCESS.items():
            rows.append(Row(section, month["month"], name, month[process]))
    return rows


def task_table(summary):
    return [
        (
            zh.PROCESS[t["process"]],
            step_name(t),
            t["completed"],
            t["median_hours"],
            t["p90_hours"],
            t["late"],
            t["overdue"],
        )
        for t in summary["tasks"]
    ]


def monthly_table(summary):
    return [(m["month"], *(m[p] for p in zh.PROCESS)) for m in summary["monthly"]]


def heading(summary):
    """(label, value, kind) lines above the table."""
    period = summary["period"]
    return [
        ("组织", summary["organization"]["name"], "text"),
        ("起始日期", period["from"], "date"),
        ("截止日期", period["to"], "date"),
        ("统计时点", period["as_of"], "datetime"),
        ("导出时间", timezone.now(), "datetime"),
    ]


# --- case lists -------------------------------------------------------------------------------


def _record(case, name):
    try:
        return getattr(case, name)
    except ObjectDoesNotExist:
        return None


def _of(name, attr, transform=None):
    def get(case):
        record = _record(case, name)
        value = getattr(record, attr, None) if record is not None else None
        if transform is not None and value not in (None, ""):
            value = transform(value)
        return value

    return get


def _hardship_category(case):
    record = _record(case, "hardship")
    if record is None:
        return None
    return zh.label(zh.HARDSHIP_CATEGORY, record.approved_category or record.proposed_category)


CASE_COLUMNS = (
    ("案件编号", "text", lambda c: c.number),
    ("流程", "text", lambda c: zh.label(zh.PROCESS, c.process)),
    ("状态", "text", lambda c: zh.label(zh.STATUS, c.status)),
    ("结果", "text", lambda c: zh.label(zh.OUTCOME, c.outcome)),
    ("标题", "text", lambda c: c.title),
    ("所属组织", "text", lambda c: c.organization.name),
    ("申请人", "text", lambda c: c.applicant.display_name),
    ("金额（元）", "money", lambda c: c.amount),
    ("立案时间", "datetime", lambda c: c.created_at),
    ("办结时间", "datetime", lambda c: c.finished_at),
    ("救助类型", "text", _of("hardship", "aid_type", lambda v: zh.label(zh.AID_TYPE, v))),
    ("困难类别", "text", _hardship_category),
    ("批准金额（元）", "money", _of("hardship", "approved_amount")),
    ("发放金额（元）", "money", _of("hardship", "disbursed_amount")),
    ("发放日期", "date", _of("hardship", "disbursed_on")),
    (
        "争议类别",
        "text",
        _of("mediation", "category", lambda v: zh.label(zh.MEDIATION_CATEGORY, v)),
    ),
    ("协议生效时间", "datetime", _of("mediation", "effective_at")),
    ("法定调解期限", "datetime", _of("mediation", "statutory_deadline")),
    ("经费所属期", "text", _of("remittance", "period", lambda v: v.strftime("%Y-%m"))),
    ("应拨缴经费（元）", "money", _of("remittance", "fund_due")),
    ("上解金额（元）", "money", _of("remittance", "upper_share")),
    ("实缴金额（元）", "money", _of("remittance", "paid_amount")),
    ("缴款日期", "date", _of("remittance", "paid_on")),
    ("缴款期限", "date", _of("remittance", "due_date")),
    ("滞纳天数", "int", _of("remittance", "days_late")),
    ("滞纳金（元）", "money", _of("remittance", "late_fee")),
)
CASE_SELECT_RELATED = ("organization", "applicant", "hardship", "mediation", "remittance")


def case_row(case):
    return [get(case) for _header, _kind, get in CASE_COLUMNS]


# --- trails -----------------------------------------------------------------------------------


def _person(user):
    return f"{user.display_name}（{user.username}）" if user is not None else ""


def actor_text(event):
    """Who wrote `event`: a person, 不公开 where the reader may not know (an objector,
    cases.selectors.trail_shown_to), else the system."""
    if event.actor is not None:
        return _person(event.actor)
    return "不公开" if getattr(event, "author_withheld", False) else "系统"


def _local_times(value):
    """The event's data with its times (stored in UTC) in local time, as every other column."""
    if isinstance(value, dict):
        return {k: _local_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_local_times(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return timezone.localtime(moment).isoformat()
    return value


def data_text(event):
    if not event.data:
        return ""
    return json.dumps(_local_times(event.data), ensure_ascii=False, sort_keys=True)


TRAIL_COLUMNS = (
    ("序号", "int", lambda e, process: e.seq),
    ("时间", "datetime", lambda e, process: e.at),
    ("操作", "text", lambda e, process: zh.action(e.action)),
    ("操作代码", "text", lambda e, process: e.action),
    ("操作人", "text", lambda e, process: actor_text(e)),
    ("角色", "text", lambda e, process: zh.role(e.actor_role)),
    ("代理对象", "text", lambda e, process: _person(e.on_behalf_of)),
    ("环节", "text", lambda e, process: zh.step_label(process, e.step) if e.step else ""),
    ("任务", "int", lambda e, process: e.task_id),
    ("意见", "text", lambda e, process: e.comment),
    ("数据", "text", lambda e, process: data_text(e)),
    ("来源IP", "text", lambda e, process: e.source_ip or ""),
    ("前一哈希", "text", lambda e, process: e.prev_hash),
    ("哈希", "text", lambda e, process: e.hash),
)


def trail_row(event, process):
    return [get(event, process) for _header, _kind, get in TRAIL_COLUMNS]
