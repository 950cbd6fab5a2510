from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HardshipConfig(AppConfig):
    name = "cases.hardship"
    label = "hardship"
    verbose_name = _("Hardship aid")

    def ready(self):
        from cases import details
        from cases.attachments import policy

        from .api import HardshipDetailsSerializer
        from .views import may_apply, panel

        # The hardship fields in the case JSON, joined with their register entry; the case
        # page's hardship section (notice, objection, register entry, attachments).
        details.register(
            "hardship",
            related_name="hardship",
            serializer=HardshipDetailsSerializer,
            select_related=("register_entry",),
            panel=panel,
        )
        details.register_start_form(
            "hardship",
            title=_("Apply for hardship aid"),
            url_name="hardship-apply",
            may_start=may_apply,
        )
        policy.register(
            "hardship",
            policy.Policy(
                kinds=(
                    ("id_card", _("Resident ID card")),
                    ("income_proof", _("Proof of income")),
                    ("diagnosis", _("Medical diagnosis")),
                    ("admission_letter", _("Admission letter")),
                    ("other", _("Other")),
                ),
                max_mb_parameter="hardship.attachment_max_mb",
            ),
        )
