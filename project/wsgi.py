import os

from django.core.wsgi import get_wsgi_application

# Read by the settings: a web process's statements are held to DB_STATEMENT_TIMEOUT_SECONDS.
os.environ.setdefault("UNIONFLOW_WEB_PROCESS", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()
