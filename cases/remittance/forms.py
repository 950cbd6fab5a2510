"""Forms of the remittance pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import services


class DeclarationForm(forms.Form):
    """The treasurer's monthly declaration. A treasurer of more than one grassroots union also
    chooses the union; the period picker offers only the months the service accepts. A
    supplementary declaration (补缴) names the declaration it corrects, among the union's
    standing ones (`services.standing_originals`); the field is left out while there is none."""

    organization = forms.TypedChoiceField(label=_("Union"), coerce=int)
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
    supplements = forms.TypedChoiceField(
        label=_("Supplement to"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_(
            "Only for a retroactive payroll correction of a month already declared and "
            "approved: choose that declaration; the period is its period."
        ),
    )

    def __init__(self, *args, unions, **kwargs):
        super().__init__(*args, **kwargs)
        originals = list(services.standing_originals(unions))
        if originals:
            several = len(unions) > 1
            self.fields["supplements"].choices = [
                ("", _("None: a regular declaration")),
                *(
                    (
                        r.pk,
                        f"{r.period:%Y-%m} · {r.case.number}"
                        + (f" · {r.organization.name}" if several else ""),
                    )
                    for r in originals
                ),
            ]
        else:
            del self.fields["supplements"]
        if len(unions) > 1:
            self.fields["organization"].choices = [(u.pk, u.name) for u in unions]
        else:
            del self.fields["organization"]  # the service takes the treasurer's own union
        self.fields["period"].widget.attrs.update(
            min=f"{services.EARLIEST_PERIOD:%Y-%m}", max=f"{services.latest_period():%Y-%m}"
        )
