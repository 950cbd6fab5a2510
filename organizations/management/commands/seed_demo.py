from django.core.management.base import BaseCommand

from organizations.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Create the demo union tree and one user per role (idempotent)."

    def handle(self, *args, **options):
        _orgs, users = seed_demo()
        self.stdout.write(f"Demo users (password for all: {DEMO_PASSWORD})")
        self.stdout.write(f"{'username':<16} {'name':<8} {'organization':<12} roles")
        for username, full_name, org_name, roles in users:
            self.stdout.write(f"{username:<16} {full_name:<8} {org_name:<12} {', '.join(roles)}")
