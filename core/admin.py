from django import forms
from django.conf import settings
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from cases.admin import CodeListFilter

from .config import LABELS, parameter_label, value_error
from .models import Parameter


def _parameter_choices():
    return [
        (key, f"{parameter_label(key)} ({key}, {_('default')} {value})")
        for key, value in sorted(settings.UNIONFLOW_PARAMETERS.items())
    ]


class ParameterKeyFilter(CodeListFilter):
    title = _("parameter")
    parameter_name = "key"

    def choices_with_labels(self):
        return sorted(LABELS.items())


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
    list_display = ["key_name", "key", "organization", "effective_from", "value", "note"]
    list_filter = [ParameterKeyFilter]
    search_fields = ["key", "organization__name", "note"]
    autocomplete_fields = ["organization"]
    ordering = ["key", "-effective_from"]
    fields = ["key", "key_name", "organization", "effective_from", "value", "note"]
    readonly_fields = ["key_name"]

    @admin.display(description=_("parameter"), ordering="key")
    def key_name(self, obj):
        return parameter_label(obj.key) if obj and obj.key else ""

    def get_search_results(self, request, queryset, search_term):
        """Also the rows of the parameters whose name (in the reader's language) has the term:
        the names are not in the database."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().casefold()
        named = [key for key, label in LABELS.items() if term and term in str(label).casefold()]
        if named:
            results |= queryset.filter(key__in=named)
        return results, may_have_duplicates
