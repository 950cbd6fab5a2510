from django.core.management.base import BaseCommand, CommandError

from cases import trail
from cases.models import Case


class Command(BaseCommand):
    help = "Verify the hash chain of one case's trail (--case NUMBER or id) or of every case."

    def add_arguments(self, parser):
        parser.add_argument("--case", help="case number (e.g. KN-2026-000001) or id")

    def handle(self, *args, **options):
        cases = Case.objects.order_by("pk")
        if options["case"]:
            ref = options["case"]
            cases = cases.filter(number=ref) if not ref.isdigit() else cases.filter(pk=int(ref))
            if not cases.exists():
                raise CommandError(f"No case {ref!r}.")
        checked = events = 0
        broken = []
        for case in cases.only("pk", "number").iterator():
            result = trail.verify(case)
            checked += 1
            events += result.events
            if not result.valid:
                broken.append((case.number, result.broken_at))
                self.stdout.write(f"BROKEN {case.number}: chain breaks at event {result.broken_at}")
        self.stdout.write(f"{checked} case(s), {events} event(s) checked, {len(broken)} broken.")
        if broken:
            raise CommandError(f"{len(broken)} broken trail(s).")
