"""Pages of fee remittance: the declaration form (treasurers) and the period overview."""

from django import forms
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from core.errors import DomainError
from core.ui import form_error, page
from organizations.models import Role
from organizations.selectors import memberships_of

from . import selectors, services


class DeclarationForm(forms.Form):
    period = forms.CharField(
        label=_("Period"),
        max_length=7,
        help_text=_("YYYY-MM"),
        widget=forms.TextInput(attrs={"type": "month"}),
    )
    payroll_total = forms.DecimalField(
        label=_("Payroll total (CNY)"), max_digits=12, decimal_places=2, min_value=0.01
    )
    headcount = forms.IntegerField(label=_("Headcount"), min_value=1)
    member_count = forms.IntegerField(label=_("Member count"), min_value=0)


@page("remittance")
def declare(request):
    form = DeclarationForm(
        request.POST or None,
        initial={
            "period": (timezone.localdate().replace(day=1) - timezone.timedelta(days=1)).strftime(
                "%Y-%m"
            )
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            case = services.declare(user=request.user, **form.cleaned_data)
            return redirect("case-detail", pk=case.pk)
        except DomainError as exc:
            form_error(request, form, exc)
    return render(request, "remittance/declare.html", {"form": form})


@require_safe
@page("remittance")
def overview(request):
    period_text = request.GET.get("period") or (
        timezone.localdate().replace(day=1) - timezone.timedelta(days=1)
    ).strftime("%Y-%m")
    error, rows = None, []
    try:
        period = services.parse_period(period_text)
        rows = selectors.overview(request.user, period)
    except DomainError as exc:
        error = exc.detail
    return render(
        request, "remittance/overview.html", {"rows": rows, "period": period_text, "error": error}
    )


def may_declare(user):
    return any(m.role == Role.TREASURER for m in memberships_of(user))
