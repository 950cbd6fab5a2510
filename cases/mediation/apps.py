from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    name = "cases.mediation"
    label = "mediation"
    verbose_name = _("Labor-dispute mediation")

    def ready(self):
        from cases import details

        from .views import CasePageFields, may_apply, panel

        # CasePageFields is the API's MediationDetailsSerializer with labels for the case page.
        details.register(
            "mediation",
            related_name="mediation",
            serializer=CasePageFields,
            select_related=("mediator",),
            panel=panel,
        )
        details.register_start_form(
            "mediation",
            title=_("Apply for mediation"),
            url_name="mediation-apply",
            may_start=may_apply,
        )
