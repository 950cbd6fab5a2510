"""Forms of the mediation pages. They check types and formats so that every bad field is
reported at once, next to the field; the services apply the same rules again for any caller."""

import re
from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from cases.identifiers import InvalidResidentId, resident_id
from core import ui

from . import rules
from .models import Category, Channel, Party

# 统一社会信用代码 (GB 32100): digits and uppercase letters except I, O, Z, S, V. The browser
# checks the shape as you type; the checksum is verified on the server.
CREDIT_CODE_PATTERN = "[0-9A-HJ-NP-RTUWXY]{18}"
ID_NUMBER_PATTERN = "[0-9]{17}[0-9Xx]"
# The shape for the browser; the server also asks for enough digits (rules.phone_problem).
PHONE_PATTERN = "[0-9+\\- ]{7,20}"
# What <input type=date> and type=datetime-local take, whatever the language's own formats
# (Chinese writes 2026/03/02, which the browser's date input would drop).
ISO_DATE = "%Y-%m-%d"
ISO_MINUTE = "%Y-%m-%dT%H:%M"
# A representative's line: "name, phone" — ASCII or Chinese comma, 、 or a tab between.
_SEPARATORS = re.compile(r"\s*[,，、\t]\s*")


class PanelForm(forms.Form):
    """Several forms share the case page: each gets its own element ids (`id_<slug>_<field>`)
    while the posted names stay plain."""

    slug = None

    def __init__(self, *args, **kwargs):
        if self.slug:
            kwargs.setdefault("auto_id", f"id_{self.slug}_%s")
        super().__init__(*args, **kwargs)


class OnceForm(PanelForm, ui.OnceForm):
    """A panel form with a one-time key (core.ui.once)."""


def _text(label, **attrs):
    return forms.CharField(label=label, widget=forms.TextInput(attrs=attrs))


class ApplicationForm(OnceForm):
    organization = forms.ModelChoiceField(
        label=_("Mediation organization"), queryset=None, empty_label=None
    )
    channel = forms.ChoiceField(
        label=_("Channel"), choices=Channel.choices, widget=forms.RadioSelect
    )
    applicant_username = forms.CharField(
        label=_("The worker's account (username)"),
        required=False,
        max_length=150,
        help_text=_(
            "If the worker has an account here, they then follow the case themselves; otherwise "
            "you receive what they are told and hand it over."
        ),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    applicant_name = forms.CharField(
        label=_("Applicant's name"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    applicant_id_number = forms.CharField(
        label=_("Applicant's resident ID number"),
        max_length=18,
        help_text=_("18 characters; the last may be X."),
        widget=forms.TextInput(
            attrs={
                "pattern": ID_NUMBER_PATTERN,
                "maxlength": 18,
                "autocomplete": "off",
                "spellcheck": "false",
                "title": _("17 digits, then a digit or X"),
            }
        ),
    )
    applicant_phone = forms.CharField(
        label=_("Applicant's phone"),
        max_length=20,
        widget=forms.TextInput(
            # inputmode rather than type=tel: the phone keypad, with the site's text-field style.
            attrs={
                "inputmode": "tel",
                "autocomplete": "tel",
                "pattern": PHONE_PATTERN,
            }
        ),
    )
    employer_name = forms.CharField(
        label=_("Employer"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    employer_credit_code = forms.CharField(
        label=_("Employer's unified social credit code"),
        max_length=18,
        help_text=_(
            "18 digits and capital letters (not I, O, Z, S, V), as on the business licence."
        ),
        widget=forms.TextInput(
            attrs={
                "pattern": CREDIT_CODE_PATTERN,
                "maxlength": 18,
                "autocapitalize": "characters",
                "autocomplete": "off",
                "spellcheck": "false",
                "title": _("18 digits and capital letters (not I, O, Z, S, V)"),
            }
        ),
    )
    category = forms.ChoiceField(label=_("Kind of dispute"), choices=[("", "—"), *Category.choices])
    claim_amount = forms.DecimalField(
        label=_("Amount claimed (CNY)"),
        max_digits=14,
        decimal_places=2,
        min_value=0,
        help_text=_("0 if the claim is not about money."),
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01", "min": "0"}),
    )
    facts = forms.CharField(
        label=_("Facts and what you ask for"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    known_on = forms.DateField(
        label=_("Date you knew of the infringement"),
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )
    worker_count = forms.IntegerField(
        label=_("Number of workers with this claim"),
        min_value=1,
        max_value=100000,
        initial=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "1"}),
    )
    representatives = forms.CharField(
        label=_("Elected representatives (collective case)"),
        required=False,
        max_length=5000,
        help_text=_("One per line: name, phone (the phone may be left out)."),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "王某, 13800000000"}),
    )

    def __init__(self, *args, organizations, channels, recorder, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        if len(organizations) == 1:
            self.fields["organization"].initial = organizations[0].pk
        self.fields["channel"].choices = [(c, Channel(c).label) for c in channels]
        if len(channels) == 1:
            # Nothing to choose: a member files in writing.
            self.fields["channel"].initial = channels[0]
            self.fields["channel"].widget = forms.HiddenInput()
        if not recorder:
            del self.fields["applicant_username"]
        self.fields["known_on"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean_applicant_id_number(self):
        try:
            return resident_id(self.cleaned_data["applicant_id_number"].strip())
        except InvalidResidentId as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_applicant_phone(self):
        value = self.cleaned_data["applicant_phone"].strip()
        problem = rules.phone_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_employer_credit_code(self):
        try:
            return uscc.validate(self.cleaned_data["employer_credit_code"].strip().upper())
        except StdnumError as exc:
            raise forms.ValidationError(_("Not a valid unified social credit code.")) from exc

    def clean_known_on(self):
        value = self.cleaned_data["known_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("Cannot be in the future."))
        return value

    def clean_representatives(self):
        people = []
        for number, line in enumerate(self.cleaned_data["representatives"].splitlines(), 1):
            if not line.strip():
                continue
            parts = _SEPARATORS.split(line.strip(), maxsplit=1)
            name, phone = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
            if not name or len(name) > 100:
                raise forms.ValidationError(
                    _("Line %(n)s: give a name (at most 100 characters).") % {"n": number}
                )
            problem = phone and rules.phone_problem(phone)
            if problem:
                raise forms.ValidationError(
                    _("Line %(n)s: %(problem)s") % {"n": number, "problem": problem}
                )
            people.append({"name": name, "phone": phone})
        return people

    def values(self):
        """What the service takes."""
        values = dict(self.cleaned_data)
        values.pop("form_key", None)
        return values


class SessionForm(OnceForm):
    slug = "session"

    date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE)
    )
    attendees = forms.CharField(
        label=_("Who attended"),
        max_length=5000,
        help_text=_("One per line."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    notes = forms.CharField(
        label=_("Notes"), max_length=10000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["date"].initial = today
        self.fields["date"].widget.attrs["max"] = today.isoformat()

    def clean_attendees(self):
        people = [line.strip() for line in self.cleaned_data["attendees"].splitlines()]
        people = [p for p in people if p]
        if not people:
            raise forms.ValidationError(_("Name at least one person."))
        if len(people) > 50:
            raise forms.ValidationError(_("At most 50 people."))
        if any(len(p) > 100 for p in people):
            raise forms.ValidationError(_("At most 100 characters per line."))
        return people


class SignatureForm(PanelForm):
    slug = "signature"

    party = forms.ChoiceField(label=_("Signature"), choices=Party.choices)
    signed_at = forms.DateTimeField(
        label=_("Signed on paper at"),
        required=False,
        help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=ISO_MINUTE),
    )

    def __init__(self, *args, parties=None, **kwargs):
        super().__init__(*args, **kwargs)
        if parties is not None:
            self.fields["party"].choices = [(p, Party(p).label) for p in parties]
        self.fields["signed_at"].widget.attrs["max"] = timezone.localtime().strftime(ISO_MINUTE)


class AgreementWithdrawalForm(OnceForm):
    slug = "withdrawal"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=5000,
        help_text=_("For example, which party refuses to sign, and why."),
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ExtensionForm(OnceForm):
    slug = "extension"

    worker_consent = forms.BooleanField(label=_("The worker consents"), required=False)
    employer_consent = forms.BooleanField(label=_("The employer consents"), required=False)
    until = forms.DateField(
        label=_("New last day of the term"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format=ISO_DATE),
    )
    days = forms.IntegerField(
        label=_("Or: days added to the term"),
        required=False,
        min_value=1,
        max_value=366,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "1", "max": "366"}),
    )
    note = forms.CharField(
        label=_("How consent was given"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, deadline=None, **kwargs):
        super().__init__(*args, **kwargs)
        if deadline is not None:
            self.fields["until"].widget.attrs["min"] = (deadline + timedelta(days=1)).isoformat()


class RecusalRequestForm(OnceForm):
    slug = "recusal"

    party = forms.ChoiceField(
        label=_("Requested by"),
        choices=[(p.value, p.label) for p in (Party.WORKER, Party.EMPLOYER)],
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, worker_only=False, **kwargs):
        super().__init__(*args, **kwargs)
        if worker_only:
            self.fields["party"].choices = [(Party.WORKER.value, Party.WORKER.label)]
            self.fields["party"].initial = Party.WORKER.value
            self.fields["party"].widget = forms.HiddenInput()


class RecusalDecisionForm(PanelForm):
    slug = "recusal_decision"

    decision = forms.ChoiceField(choices=[("grant", _("Grant")), ("refuse", _("Refuse"))])
    comment = forms.CharField(
        label=_("Comment (required to refuse)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
