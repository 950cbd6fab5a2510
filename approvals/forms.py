"""Forms of the task pages, built from what a task declares (its decisions and fields) —
the same contract the API gives a generic client."""

from django import forms
from django.utils.translation import gettext_lazy as _

from core.ui import OnceForm

from .spec import DECISION_LABELS


def _field(spec):
    common = {"label": spec.label, "required": spec.required}
    kind = spec.type
    if kind == "text":
        return forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}), max_length=spec.max_length, **common
        )
    if kind in ("string", "user"):
        return forms.CharField(max_length=200 if kind == "string" else 150, **common)
    if kind == "integer":
        return forms.IntegerField(min_value=spec.min_value, max_value=spec.max_value, **common)
    if kind == "decimal":
        return forms.DecimalField(
            max_digits=14,
            decimal_places=2,
            min_value=spec.min_value if spec.min_value is not None else 0,
            **common,
        )
    if kind == "date":
        # Browsers' date pickers take ISO dates only, whatever the page's language.
        return forms.DateField(
            widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}), **common
        )
    if kind == "boolean":
        return forms.BooleanField(required=False, label=spec.label)
    if kind == "choice":
        return forms.ChoiceField(choices=[("", "—"), *spec.choices], **common)
    raise AssertionError(kind)


class DecisionForm(OnceForm):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )

    def __init__(self, *args, decisions, fields, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = [(d, DECISION_LABELS.get(d, d)) for d in decisions]
        if len(decisions) == 1:
            self.fields["decision"].initial = decisions[0]
        self.data_fields = []
        for spec in fields:
            # Required-ness depends on the decision (approving needs them, returning does not):
            # the service decides; the browser only checks types.
            field = _field(spec)
            field.required = False
            field.widget.attrs["data-required-to-approve"] = "true" if spec.required else "false"
            if spec.sensitive:
                # Not kept by the browser's autofill or sent to its spell checker.
                field.widget.attrs.update(autocomplete="off", spellcheck="false")
            if spec.required:
                hint = _("Required to approve.")
                field.help_text = f"{field.help_text} {hint}" if field.help_text else hint
            self.fields[f"data_{spec.name}"] = field
            self.data_fields.append(f"data_{spec.name}")

    def data_values(self):
        values = {}
        for name in self.data_fields:
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            values[name.removeprefix("data_")] = (
                value.isoformat()
                if hasattr(value, "isoformat")
                else (str(value) if not isinstance(value, (bool, int, str)) else value)
            )
        return values


class TransferForm(forms.Form):
    to = forms.CharField(label=_("Transfer to (username)"), max_length=150)
    comment = forms.CharField(label=_("Comment"), required=False, max_length=5000)


class AddApproverForm(forms.Form):
    user = forms.CharField(label=_("Approver (username)"), max_length=150)
    position = forms.ChoiceField(
        label=_("When"),
        choices=[
            ("before", _("Before me (consult)")),
            ("after", _("After me")),
            ("parallel", _("Together with me")),
        ],
    )
    comment = forms.CharField(label=_("Comment"), required=False, max_length=5000)


class SendBackForm(forms.Form):
    to_step = forms.ChoiceField(label=_("Send back to"))
    comment = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )

    def __init__(self, *args, steps, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_step"].choices = steps


class UrgeForm(forms.Form):
    comment = forms.CharField(label=_("Message"), required=False, max_length=5000)


class CCForm(OnceForm):
    users = forms.CharField(label=_("Copy to (usernames, comma-separated)"), max_length=2000)
    comment = forms.CharField(label=_("Comment"), required=False, max_length=5000)

    def clean_users(self):
        return [
            u.strip() for u in self.cleaned_data["users"].replace("，", ",").split(",") if u.strip()
        ]


class DelegationForm(OnceForm):
    delegate = forms.CharField(label=_("Delegate (username)"), max_length=150)
    starts_at = forms.DateTimeField(
        label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)
