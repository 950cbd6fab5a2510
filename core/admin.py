from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .config import value_error
from .models import Parameter


def _parameter_choices():
    return [
        (key, f"{key} ({_('default')} {value})")
        for key, value in sorted(settings.UNIONFLOW_PARAMETERS.items())
    ]


class ParameterForm(forms.ModelForm):
    """Only the keys the code reads (a misspelt key would be saved and never used), values not
    below zero and within the key's bounds (core.config.BOUNDS: a rate from 0 to 1, a due day
    from 1 to 31, counts whole), and one version per key, organization and date — also for
    "everywhere", which the database's unique constraint lets repeat (its organization is
    NULL)."""

    key = forms.ChoiceField(label=_("key"), choices=_parameter_choices)

    class Meta:
        model = Parameter
        fields = ["key", "organization", "effective_from", "value", "note"]

    def clean_value(self):
        value = self.cleaned_data["value"]
        if value is not None and value < 0:
            raise forms.ValidationError(_("A rate, threshold or period is not below zero."))
        return value

    def clean(self):
        data = super().clean()
        key, value = data.get("key"), data.get("value")
        if key and value is not None and "value" not in self.errors:
            message = value_error(key, value)
            if message:
                self.add_error("value", message)
        same = Parameter.objects.filter(
            key=data.get("key"),
            organization=data.get("organization"),
            effective_from=data.get("effective_from"),
        ).exclude(pk=self.instance.pk)
        if data.get("key") and data.get("effective_from") and same.exists():
            raise forms.ValidationError(
                _("This parameter already has a value from that date for that organization.")
            )
        return data


@admin.register(Parameter)
class ParameterAdmin(admin.ModelAdmin):
    """Domain numbers (rates, thresholds, periods) per organization and effective date; the
    next operation reads a change (core.config, core.generation)."""

    form = ParameterForm
    list_display = ["key", "organization", "effective_from", "value", "note"]
    list_filter = ["key"]
    search_fields = ["key", "organization__name", "note"]
    autocomplete_fields = ["organization"]
    ordering = ["key", "-effective_from"]
