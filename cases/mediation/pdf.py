"""The written documents of mediation, in Chinese: the agreement (调解协议书) and the notices
the parties are given — the decline (不予受理通知书), the end of mediation without agreement or
past the statutory term (终止调解通知书), each in a copy for the worker and one for the
employer, and the non-performance notice (告知书), the worker's only.

These are legal forms whose language is Chinese whatever the reader's interface language, so
their text is written here in Chinese rather than translated. The font is reportlab's built-in
CID font STSong-Light (the viewer supplies the glyphs): nothing to install or embed."""

import io
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from approvals.calendar import local_zone
from core.sensitive import mask
from organizations.models import User

from .models import PAYMENT_ORDER_CATEGORIES, DeclineReason, Outcome, Party, Performance

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))

CATEGORY = {
    "labor_relationship": "确认劳动关系",
    "contract": "订立、履行、变更、解除和终止劳动合同",
    "dismissal": "除名、辞退和辞职、离职",
    "hours_leave": "工作时间、休息休假",
    "social_insurance": "社会保险、福利",
    "pay": "劳动报酬",
    "injury_medical": "工伤医疗费",
    "compensation": "经济补偿或者赔偿金",
}
DECLINE_REASON = {
    DeclineReason.NOT_LABOR_DISPUTE: "所申请事项不属于劳动争议",
    DeclineReason.IN_ARBITRATION_OR_COURT: "该争议已由劳动争议仲裁委员会或者人民法院受理",
    DeclineReason.RESPONDENT_REFUSED: "被申请人拒绝调解",
}
SIGNATORIES = (
    (Party.WORKER, "申请人（劳动者）签名"),
    (Party.EMPLOYER, "被申请人（用人单位）签名或盖章"),
    (Party.MEDIATOR, "调解员签名"),
    (Party.SEAL, "调解组织印章"),
)
LAW = "《中华人民共和国劳动争议调解仲裁法》"

NOTICE_DECLINED = "declined"
NOTICE_NO_AGREEMENT = "no_agreement"
NOTICE_EXPIRED = "expired"
NOTICE_NOT_PERFORMED = "not_performed"
# DOMAIN.md B.5: the parties are told in writing. The non-performance notice tells the worker
# what they may do against the employer who did not perform: theirs only.
NOTICES_TO_BOTH_PARTIES = frozenset({NOTICE_DECLINED, NOTICE_NO_AGREEMENT, NOTICE_EXPIRED})


def _styles():
    base = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=20, wordWrap="CJK")
    return {
        "org": ParagraphStyle("org", parent=base, alignment=TA_CENTER, fontSize=14),
        "title": ParagraphStyle("title", parent=base, alignment=TA_CENTER, fontSize=18, leading=28),
        "number": ParagraphStyle("number", parent=base, alignment=TA_RIGHT, fontSize=10.5),
        "body": base,
        "indent": ParagraphStyle("indent", parent=base, firstLineIndent=24),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    }


def _day(value):
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        value = value.astimezone(local_zone()).date()
    return f"{value.year}年{value.month}月{value.day}日"


def _moment(value):
    local = value.astimezone(local_zone())
    return f"{_day(local)} {local:%H:%M}"


def _money(amount):
    return f"人民币{amount:,.2f}元"


def _p(text, style):
    # Entered text is escaped: a Paragraph reads markup. Line breaks are kept.
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _build(case, title, paragraphs):
    styles = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=25 * mm,
        bottomMargin=25 * mm,
        title=f"{title} {case.number}",
        author=case.organization.name,
    )
    story = [
        _p(case.organization.name, styles["org"]),
        _p(title, styles["title"]),
        _p(f"案号：{case.number}", styles["number"]),
        Spacer(1, 6 * mm),
    ]
    for text, style in paragraphs:
        story.append(text if not isinstance(text, str) else _p(text, styles[style]))
        story.append(Spacer(1, 2 * mm))
    doc.build(story)
    return buffer.getvalue()


# --- notices -----------------------------------------------------------------------------


def notice_kind(case, record):
    """Which written notice the worker is due, or None while there is none."""
    if case.outcome == Outcome.DECLINED:
        return NOTICE_DECLINED
    if case.outcome == Outcome.NO_AGREEMENT:
        return NOTICE_NO_AGREEMENT
    if case.outcome == Outcome.EXPIRED:
        return NOTICE_EXPIRED
    if record.performance == Performance.NOT_PERFORMED:
        return NOTICE_NOT_PERFORMED
    return None


def notice_pdf(case, record, party=Party.WORKER):
    """The notice due on the case, addressed to `party` (the worker, or the employer for the
    notices to both parties)."""
    kind = notice_kind(case, record)
    if kind is None:
        raise ValueError("no notice for this case")
    to_employer = party == Party.EMPLOYER
    if to_employer and kind not in NOTICES_TO_BOTH_PARTIES:
        raise ValueError(f"the {kind} notice is the worker's only")
    category = CATEGORY[record.category]
    if to_employer:
        addressee = f"{record.employer_name}："
        dispute = (
            f"{record.applicant_name}于{_day(record.received_at)}提出的与你单位之间"
            f"因{category}发生的劳动争议调解申请"
        )
    else:
        addressee = f"{record.applicant_name}："
        dispute = (
            f"你于{_day(record.received_at)}提出的与{record.employer_name}之间"
            f"因{category}发生的劳动争议调解申请"
        )
    # Each notice follows the end of the case (the decline, the closing, the follow-up).
    closing = [
        ("特此通知。", "indent"),
        (case.organization.name, "right"),
        (_day(case.finished_at), "right"),
    ]
    if kind == NOTICE_DECLINED:
        # A decline for "other" reasons (no longer offered) states the explanation given.
        reason = DECLINE_REASON.get(record.decline_reason, record.decline_text)
        you = "当事人" if to_employer else "你"
        advice = {
            DeclineReason.NOT_LABOR_DISPUTE: f"{you}可以通过其他合法途径解决。",
            DeclineReason.IN_ARBITRATION_OR_COURT: "请按照劳动争议仲裁委员会或者人民法院的程序处理。",
        }.get(
            record.decline_reason,
            f"根据{LAW}第五条的规定，{you}可以依法向劳动争议仲裁委员会申请仲裁。",
        )
        return _build(
            case,
            "劳动争议调解不予受理通知书",
            [
                (addressee, "body"),
                (f"{dispute}，经审查，因{reason}，本调解组织决定不予受理。", "indent"),
                (advice, "indent"),
                *closing,
            ],
        )
    if kind == NOTICE_NO_AGREEMENT:
        return _build(
            case,
            "终止调解通知书",
            [
                (addressee, "body"),
                (
                    f"{dispute}，经本调解组织调解，双方当事人未能达成调解协议，本次调解终止。",
                    "indent",
                ),
                (
                    f"根据{LAW}第五条的规定，调解不成的，当事人可以向劳动争议仲裁委员会申请仲裁。",
                    "indent",
                ),
                *closing,
            ],
        )
    if kind == NOTICE_EXPIRED:
        return _build(
            case,
            "终止调解通知书",
            [
                (addressee, "body"),
                (
                    f"{dispute}，自本调解组织收到调解申请之日起至调解期限届满"
                    f"（{_day(record.statutory_deadline)}），双方当事人未达成调解协议，调解终止。",
                    "indent",
                ),
                (f"根据{LAW}第十四条第三款的规定，当事人可以依法申请仲裁。", "indent"),
                *closing,
            ],
        )
    paragraphs = [
        (addressee, "body"),
        (
            f"你与{record.employer_name}于{_day(record.effective_at)}生效的调解协议约定，"
            f"{record.employer_name}应于{_day(record.performance_deadline)}前履行。"
            f"经本调解组织回访，{record.employer_name}未在协议约定的期限内履行。",
            "indent",
        ),
        (f"根据{LAW}第十五条的规定，你可以依法申请仲裁。", "indent"),
    ]
    if record.category in PAYMENT_ORDER_CATEGORIES:
        paragraphs.append(
            (
                f"根据{LAW}第十六条的规定，因支付拖欠劳动报酬、工伤医疗费、经济补偿或者赔偿金事项"
                "达成调解协议，用人单位在协议约定期限内不履行的，你可以持调解协议书依法向人民法院申请支付令。",
                "indent",
            )
        )
    return _build(case, "调解协议未履行告知书", [*paragraphs, *closing])


# --- the agreement -------------------------------------------------------------------------


def agreement_pdf(case, record, *, reveal_identity):
    """调解协议书, printed for signing and, once signed and sealed, as the effective
    agreement with each signature's time."""
    id_number = record.applicant_id_number if reveal_identity else mask(record.applicant_id_number)
    phone = (
        record.applicant_phone
        if reveal_identity
        else mask(record.applicant_phone, keep_start=3, keep_end=4)
    )
    paragraphs = [
        (
            f"申请人（劳动者）：{record.applicant_name}，公民身份号码：{id_number}，联系电话：{phone}",
            "body",
        ),
    ]
    if record.representatives:
        names = "、".join(r["name"] for r in record.representatives)
        paragraphs.append((f"集体争议：劳动者共{record.worker_count}人，推举代表：{names}", "body"))
    paragraphs += [
        (
            f"被申请人（用人单位）：{record.employer_name}，统一社会信用代码：{record.employer_credit_code}",
            "body",
        ),
        (f"争议类别：因{CATEGORY[record.category]}发生的争议", "body"),
        (f"申请人的请求及事实：{record.facts}（请求金额：{_money(record.claim_amount)}）", "body"),
    ]
    if record.sessions:
        days = "、".join(_day_iso(s["date"]) for s in record.sessions)
        paragraphs.append((f"本调解组织于{days}主持调解，共{len(record.sessions)}次。", "indent"))
    paragraphs += [
        ("经调解，双方当事人自愿达成如下协议：", "indent"),
        (record.agreement_terms, "indent"),
        (f"协议金额：{_money(record.agreement_amount)}。", "indent"),
        (
            f"履行期限：{_day(record.performance_deadline)}前；履行方式：{record.performance_method}。",
            "indent",
        ),
        (
            "本协议自双方当事人签名、调解员签名并经调解组织盖章之日起生效，对双方当事人具有约束力，"
            "当事人应当履行。一方当事人在协议约定期限内不履行的，另一方当事人可以依法申请仲裁。",
            "indent",
        ),
    ]
    if record.arbitral_review_until:
        paragraphs.append(
            (
                f"双方当事人可以于{_day(record.arbitral_review_until)}前共同向劳动争议仲裁委员会提出仲裁审查申请。",
                "indent",
            )
        )
    for party, label in SIGNATORIES:
        signature = record.signatures.get(party)
        signed = _moment(_parse(signature["signed_at"])) if signature else "＿＿＿＿＿＿＿＿"
        who = ""
        if party == Party.MEDIATOR:
            name = _mediator_name(record, signature)
            who = f"（{name}）" if name else ""
        if party == Party.SEAL:
            who = f"（{case.organization.name}）"
        paragraphs.append((f"{label}{who}：{signed}", "body"))
    if record.effective_at:
        paragraphs.append((f"本协议已于{_moment(record.effective_at)}生效。", "body"))
    else:
        paragraphs.append(("本协议尚未生效（待签名、盖章）。", "body"))
    return _build(case, "劳动争议调解协议书", paragraphs)


def _mediator_name(record, signature):
    """The mediator named at their signature: whose signature it is once given (a mediator
    assigned after it, when the first became unavailable, does not take their place), else
    the mediator of record."""
    signer = (signature or {}).get("mediator")
    if signer and signer != (record.mediator.username if record.mediator_id else None):
        user = User.objects.filter(username=signer).first()
        if user is not None:
            return user.display_name
    return record.mediator.display_name if record.mediator_id else ""


def _parse(value):
    from datetime import datetime

    return datetime.fromisoformat(value)


def _day_iso(value):
    from datetime import date

    return _day(date.fromisoformat(value))
