"""Chinese names of what the exported files show (see the package docstring for why these
are not gettext strings)."""

from django.utils import translation

from cases.labels import action_label, role_label

PROCESS = {"hardship": "困难职工帮扶", "mediation": "劳动争议调解", "remittance": "工会经费上解"}

STATUS = {
    "in_progress": "办理中",
    "approved": "已批准",
    "rejected": "未通过",
    "withdrawn": "已撤回",
    "closed": "已办结",
}

OUTCOME = {
    "disbursed": "已发放",
    "rejected": "未通过",
    "withdrawn": "已撤回",
    "retained": "保留档案",
    "exited": "退档",
    "agreement": "达成协议",
    "no_agreement": "未达成协议",
    "declined": "不予受理",
    "expired": "逾期终止",
    "verified": "已核收",
    "approved": "已批准",
    "closed": "已办结",
}

AID_TYPE = {
    "file": "建档",
    "education": "金秋助学",
    "medical": "大病救助",
    "festival": "送温暖",
    "emergency": "临时救助",
}

HARDSHIP_CATEGORY = {
    "deep": "深度困难",
    "relative": "相对困难",
    "sudden": "意外致困",
    "ineligible": "不符合条件",
}

MEDIATION_CATEGORY = {
    "labor_relationship": "确认劳动关系",
    "contract": "劳动合同",
    "dismissal": "除名、辞退、辞职、离职",
    "hours_leave": "工作时间、休息休假",
    "social_insurance": "社会保险、福利",
    "pay": "劳动报酬",
    "injury_medical": "工伤医疗费",
    "compensation": "经济补偿或赔偿金",
}


def label(table, code):
    return table.get(code, code) if code else ""


def _zh(text):
    with translation.override("zh-hans"):
        return str(text)


# Steps, actions and roles are named as the pages name them (the flows' step titles and
# cases.labels), in Chinese: one source, so that no code is left unnamed in a file and a
# file never calls a step otherwise than the screen does.


def action(code):
    return _zh(action_label(code)) if code else ""


def role(code):
    return _zh(role_label(code)) if code else ""


def step_label(process, name, fallback=""):
    from workflows.base import flow_for

    try:
        title = getattr(flow_for(process).instance.node(name), "task_title", None)
    except KeyError:
        title = None
    return _zh(title) if title else (fallback or name)
