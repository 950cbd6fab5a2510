"""Forms of the remittance pages."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import services


class DeclarationForm(forms.Form):
    """The treasurer's monthly declaration. A treasurer of more than one grassroots union also
    chooses the union; the period picker offers only the months the service accepts."""

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

    def __init__(self, *args, unions, **kwargs):
        super().__init__(*args, **kwargs)
        if len(unions) > 1:
            self.fields["organization"].choices = [(u.pk, u.name) for u in unions]
        else:
            del self.fields["organization"]  # the service takes the treasurer's own union
        self.fields["period"].widget.attrs.update(
            min=f"{services.EARLIEST_PERIOD:%Y-%m}", max=f"{services.latest_period():%Y-%m}"
        )
