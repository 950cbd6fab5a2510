"""Chinese names of what the exported files show (see the package docstring for why these
are not gettext strings)."""

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

STEP = {
    "hardship.grassroots_review": "基层工会初审",
    "hardship.investigation": "入户调查",
    "hardship.town_review": "镇总工会复核",
    "hardship.county_approval": "县总工会审批",
    "hardship.disbursement": "发放",
    "hardship.register_review": "档案复核",
    "hardship.exit_approval": "退档审批",
    "hardship.supplement": "补正",
    "mediation.acceptance": "受理",
    "mediation.assignment": "指派调解员",
    "mediation.mediation": "调解",
    "mediation.signing": "协议签署",
    "mediation.performance": "履行回访",
    "mediation.supplement": "补正",
    "remittance.chair_approval": "申报审批",
    "remittance.payment": "缴款",
    "remittance.verification": "核收",
    "remittance.supplement": "补正",
}

ROLE = {
    "member": "会员",
    "chair": "基层工会主席",
    "treasurer": "基层工会财务",
    "aid_officer": "帮扶干事",
    "mediator": "调解员",
    "mediation_head": "调解委员会主任",
    "finance_officer": "财务",
    "auditor": "经费审查委员",
    "admin": "系统管理员",
    "system": "系统",
}

ACTION = {
    "case.submitted": "提交申请",
    "case.opened": "立案",
    "case.approved": "批准",
    "case.rejected": "未通过",
    "case.closed": "办结",
    "case.withdrawn": "撤回",
    "case.cc": "抄送",
    "task.created": "生成待办",
    "task.claimed": "认领",
    "task.released": "释放",
    "task.completed": "办理",
    "task.consulted": "征询意见",
    "task.canceled": "取消待办",
    "task.transferred": "转办",
    "task.approver_added": "加签",
    "task.sent_back": "退回",
    "task.urged": "催办",
    "task.reminded": "到期提醒",
    "task.overdue": "逾期",
    "task.reassigned": "上移办理",
    "task.done": "环节完成",
    "task.scheduled": "定时",
    "step.skipped": "跳过环节",
    "step.escalated": "上报",
    "step.unstaffed": "无人可办",
    "remittance.verified": "核收确认",
    "hardship.objection": "公示异议",
    "hardship.notice_started": "开始公示",
    "hardship.exit_notice_started": "开始退档公示",
    "hardship.figures_changed": "调整金额或类别",
    "hardship.register_entered": "建档",
    "hardship.register_retained": "保留档案",
    "hardship.register_closed": "退档",
    "mediation.signed": "签署协议",
    "mediation.agreement_effective": "协议生效",
    "mediation.term_expired": "调解期限届满",
}


def label(table, code):
    return table.get(code, code) if code else ""


def step_label(process, name, fallback=""):
    return STEP.get(f"{process}.{name}", fallback or name)
