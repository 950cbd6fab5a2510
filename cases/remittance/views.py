"""Pages of fee remittance: the declaration form (treasurers), the period overview, and the
remittance section of the case page (how the payment compares with what was due)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from approvals.models import OPEN_STATUSES
from core.errors import DomainError
from core.ui import form_error, page

from . import selectors, services
from .forms import DeclarationForm


@page("remittance")
def declare(request):
    try:
        services.check_may_declare(request.user)
    except DomainError as exc:
        # Nothing to fill in: the page says why, with the refusal's status.
        return render(
            request, "remittance/declare.html", {"refusal": exc.detail}, status=exc.status_code
        )
    unions = services.declarable_unions(request.user)
    initial = {
        "period": (timezone.localdate().replace(day=1) - timezone.timedelta(days=1)).strftime(
            "%Y-%m"
        )
    }
    # Offered from the original's case page: ?supplements=<its case id>.
    original = _original_offered(request.GET.get("supplements"), unions)
    if original is not None:
        initial.update(
            supplements=original.pk,
            period=f"{original.period:%Y-%m}",
            organization=original.organization_id,
        )
    form = DeclarationForm(request.POST or None, unions=unions, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.declare(user=request.user, **form.cleaned_data)
            return redirect("case-detail", pk=case.pk)
        except DomainError as exc:
            form_error(request, form, exc)
    return render(request, "remittance/declare.html", {"form": form})


def _original_offered(value, unions):
    """The standing declaration `?supplements=` names among the treasurer's, or None."""
    if not str(value or "").isdigit() or int(value) > services.MAX_ID:
        return None
    return services.standing_originals(unions).filter(pk=int(value)).first()


@require_safe
@page("remittance")
def overview(request):
    """The API's overview as a page, with its refusals' statuses: 400 for a period that is not
    one (or not yet), 403 for someone who holds no office — and then no table at all."""
    period_text = request.GET.get("period") or (
        timezone.localdate().replace(day=1) - timezone.timedelta(days=1)
    ).strftime("%Y-%m")
    error, rows, status = None, [], 200
    try:
        period = services.parse_period(period_text, viewing=True)
        rows = selectors.overview(request.user, period)
    except DomainError as exc:
        error, status = exc.detail, exc.status_code
    return render(
        request,
        "remittance/overview.html",
        {
            "rows": rows,
            "period": period_text,
            "error": error,
            "may_declare": may_declare(request.user),
        },
        status=status,
    )


def may_declare(user):
    """Whether to offer the declaration form: the declare service's own rule."""
    return bool(services.declarable_unions(user))


def panel(request, case):
    """The remittance section of the case page and its task pages (cases.details panel): once a
    payment is recorded, the upper share due, the amount paid and the difference — while the
    receipt waits for verification, on the task pages also at the top, where the finance
    officer decides, with the advice to send a mismatch back."""
    remittance = getattr(case, "remittance", None)
    check = selectors.payment_check(remittance) if remittance else None
    supplement_url = supplement_offer(request, case, remittance)
    if check is None:
        if supplement_url:
            return {
                "template": "remittance/panel.html",
                "remittance": remittance,
                "check": None,
                "supplement_url": supplement_url,
            }
        return None
    mismatch = ""
    if not check.matches:
        at_verification = case.tasks.filter(
            flow_task__endswith=".verification", status__in=OPEN_STATUSES
        ).exists()
        mismatch = mismatch_text(check, advice=at_verification)
        match = request.resolver_match
        if at_verification and match is not None and match.url_name == "task-detail":
            messages.add_message(request, messages.WARNING, mismatch, extra_tags="error")
    return {
        "template": "remittance/panel.html",
        "remittance": remittance,
        "check": check,
        "mismatch": mismatch,
        "supplement_url": supplement_url,
    }


def supplement_offer(request, case, remittance):
    """On the case page of a declaration its union's treasurer may correct by a supplement
    (补缴), the link to the form with it chosen; else None."""
    match = request.resolver_match
    if remittance is None or match is None or match.url_name != "case-detail":
        return None
    unions = [u for u in services.declarable_unions(request.user) if u.pk == case.organization_id]
    if not unions or not services.standing_originals(unions).filter(pk=remittance.pk).exists():
        return None
    if services.open_supplement(remittance) is not None:
        return None
    return f"{reverse('remittance-declare')}?supplements={remittance.pk}"


def mismatch_text(check, *, advice):
    if check.shortfall:
        text = _(
            "The amount paid (%(paid)s) is %(shortfall)s short of the upper share due (%(due)s)."
        ) % {"paid": check.paid_amount, "shortfall": check.shortfall, "due": check.upper_share}
    else:
        text = _(
            "The amount paid (%(paid)s) is %(excess)s more than the upper share due (%(due)s)."
        ) % {"paid": check.paid_amount, "excess": check.excess, "due": check.upper_share}
    if advice:
        text = f"{text} {_('Send it back with the reason unless the difference is settled.')}"
    return text
