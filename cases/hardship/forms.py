"""Forms of the hardship pages. The application form renders the fields for a phone (numeric
keyboards, the ID number's format checked as you type) and validates with the API's own
serializer, so the browser and the API accept and refuse exactly the same input."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from organizations.models import Role
from organizations.selectors import memberships_of

from .api import MAX_HOUSEHOLD, MAX_MONEY, MAX_REQUEST, ApplicationIn
from .models import AidType

# 17 digits and a check digit (a digit or X); the GB 11643 checksum is verified on the server.
RIC_PATTERN = r"[0-9]{17}[0-9Xx]"


def _ric_widget():
    return forms.TextInput(
        attrs={
            "pattern": RIC_PATTERN,
            "minlength": 18,
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "characters",
            "title": _("17 digits followed by a digit or X"),
        }
    )


def _money(label, *, required=True, max_value=MAX_MONEY, min_value=0, help_text=""):
    return forms.DecimalField(
        label=label,
        required=required,
        max_digits=14,
        decimal_places=2,
        min_value=min_value,
        max_value=max_value,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}),
    )


def is_chair(user):
    return any(m.role == Role.CHAIR for m in memberships_of(user))


class ApplicationForm(forms.Form):
    on_behalf_of = forms.CharField(
        label=_("On behalf of (username)"),
        required=False,
        max_length=150,
        help_text=_("As chair, you may apply for a member of your union. Empty: for yourself."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    aid_type = forms.ChoiceField(label=_("Aid type"), choices=[("", "—"), *AidType.choices])
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=32,
        help_text=_("18 characters: 17 digits and a check digit (a digit or X)."),
        widget=_ric_widget(),
    )
    household_size = forms.IntegerField(
        label=_("Household size"),
        min_value=1,
        max_value=MAX_HOUSEHOLD,
        help_text=_("People living in the household, you included."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    annual_income = _money(
        _("Annual household income (CNY)"),
        help_text=_("All income of the household over the last 12 months."),
    )
    rigid_expenses = _money(
        _("Rigid expenses (CNY a year)"),
        help_text=_("Medical, disability, schooling and necessary job costs."),
    )
    requested_amount = _money(
        _("Amount requested (CNY)"), min_value=Decimal("0.01"), max_value=MAX_REQUEST
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        help_text=_("What happened and what the aid is for."),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    accident_or_illness = forms.BooleanField(
        label=_("The hardship is caused by an accident or a critical illness"),
        required=False,
    )
    hardship_costs = _money(
        _("Costs of the accident or illness this year (CNY)"),
        required=False,
        help_text=_("Required when the box above is ticked."),
    )
    child_name = forms.CharField(label=_("Child's name"), required=False, max_length=100)
    child_id_number = forms.CharField(
        label=_("Child's resident ID number"),
        required=False,
        max_length=32,
        widget=_ric_widget(),
    )

    # How the template groups the fields.
    SUDDEN = ("accident_or_illness", "hardship_costs")
    EDUCATION = ("child_name", "child_id_number")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not is_chair(user):
            del self.fields["on_behalf_of"]

    def main_fields(self):
        return [f for f in self if f.name not in self.SUDDEN + self.EDUCATION]

    def sudden_fields(self):
        return [self[name] for name in self.SUDDEN]

    def education_fields(self):
        return [self[name] for name in self.EDUCATION]

    def clean(self):
        """The API's serializer decides (ID numbers with their checksum, the fields each aid
        type needs); its messages go next to the fields that have no error yet."""
        cleaned = super().clean()
        data = {k: v for k, v in cleaned.items() if v is not None and v != ""}
        body = ApplicationIn(data=data)
        if body.is_valid():
            return dict(body.validated_data)
        for name, messages in body.errors.items():
            field = name if name in self.fields else None
            if field is not None and field in self.errors:
                continue  # the field's own message says it already
            for message in messages:
                self.add_error(field, str(message))
        return cleaned


class ObjectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the objection"),
        max_length=2000,
        help_text=_(
            "What you know that speaks against this application. The case goes back to the "
            "home investigation."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, review=False, **kwargs):
        super().__init__(*args, **kwargs)
        if review:  # a proposed closure of a register entry (退档)
            self.fields["reason"].help_text = _(
                "What you know that speaks against closing this register entry. The entry is "
                "reviewed again."
            )
