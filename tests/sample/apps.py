from django.apps import AppConfig


class SampleConfig(AppConfig):
    name = "tests.sample"
    label = "sample"

    def ready(self):
        from . import flows  # noqa: F401  (registers the sample process)
