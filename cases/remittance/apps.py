from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RemittanceConfig(AppConfig):
    name = "cases.remittance"
    label = "remittance"
    verbose_name = _("Fee remittance")

    def ready(self):
        from cases import details

        from .api import RemittanceDetailsSerializer
        from .views import may_declare, panel

        # The remittance fields in the case JSON; the case page's payment check (due, paid,
        # difference) once a payment is recorded.
        details.register(
            "remittance",
            related_name="remittance",
            serializer=RemittanceDetailsSerializer,
            panel=panel,
        )
        details.register_start_form(
            "remittance",
            title=_("Declare the union fund"),
            url_name="remittance-declare",
            may_start=may_declare,
        )
