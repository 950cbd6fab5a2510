from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemittanceConfig(AppConfig):
    name = "cases.remittance"
    label = "remittance"
    verbose_name = _("Fee remittance")

    def ready(self):
        from cases import details

        from .api import RemittanceDetailsSerializer

        details.register(
            "remittance", related_name="remittance", serializer=RemittanceDetailsSerializer
        )
