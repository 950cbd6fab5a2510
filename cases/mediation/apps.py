from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MediationConfig(AppConfig):
    name = "cases.mediation"
    label = "mediation"
    verbose_name = _("Labor-dispute mediation")

    def ready(self):
        from cases import details

        from .api import MediationDetailsSerializer

        details.register(
            "mediation",
            related_name="mediation",
            serializer=MediationDetailsSerializer,
            select_related=("mediator",),
        )
