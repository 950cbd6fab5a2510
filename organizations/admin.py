from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from .models import Membership, Organization, OrganizationKind, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["organization"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (_("Union profile"), {"fields": ("full_name", "phone")}),
    )
    list_display = ("username", "full_name", "email", "is_active", "is_staff")
    search_fields = ("username", "full_name", "email")
    inlines = [MembershipInline]


# Higher levels first: a union sits under one of its own level or a higher one (a town under a
# county, a county under a city's county-level federation, a branch under its grassroots
# union), never under a lower one.
LEVELS = [OrganizationKind.COUNTY, OrganizationKind.TOWN, OrganizationKind.GRASSROOTS]


class OrganizationForm(movenodeform_factory(Organization)):
    def clean_region_code(self):
        code = self.cleaned_data["region_code"].strip()
        if code and not (code.isascii() and code.isdigit() and len(code) in (6, 9, 12)):
            raise forms.ValidationError(
                _("An administrative division code is 6, 9 or 12 digits (e.g. 110105).")
            )
        return code

    def clean(self):
        data = super().clean()
        ref, position, kind = (
            data.get("treebeard_ref_node"),
            data.get("treebeard_position"),
            data.get("kind"),
        )
        parent = (
            ref
            if position and position.endswith("child")
            else (ref and Organization.objects.get_parent(ref))
        )
        if parent is not None and kind and LEVELS.index(kind) < LEVELS.index(parent.kind):
            self.add_error(
                "kind",
                _("A %(kind)s cannot sit under %(parent)s, a %(parent_kind)s.")
                % {
                    "kind": OrganizationKind(kind).label,
                    "parent": parent.name,
                    "parent_kind": OrganizationKind(parent.kind).label,
                },
            )
        return data


@admin.register(Organization)
class OrganizationAdmin(TreeAdmin):
    form = OrganizationForm
    list_display = ("name", "kind", "region_code")
    search_fields = ("name",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "organization", "role")
    list_filter = ("role", "organization")
    search_fields = ("user__username", "user__full_name", "organization__name")
    autocomplete_fields = ["user", "organization"]
