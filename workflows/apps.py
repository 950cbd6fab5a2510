import importlib
import pkgutil

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Modules of this package that are not process flows.
_NOT_FLOWS = {"apps", "base", "models", "tasks", "migrations"}


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = _("Workflows")

    def ready(self):
        # One module per process; importing it registers its flow.
        for module in pkgutil.iter_modules(importlib.import_module(self.name).__path__):
            if module.name not in _NOT_FLOWS:
                importlib.import_module(f"{self.name}.{module.name}")
