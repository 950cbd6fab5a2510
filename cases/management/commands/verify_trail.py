import os

from django.core.management.base import BaseCommand, CommandError

from cases import trail
from cases.models import Case


class ProgressBar:
    """A progress bar on stderr: redrawn in place on a terminal; on anything else (a log, a
    pipe) one line per tenth, so nothing is garbled."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.shown = -1

    def __call__(self, done, total):
        percent = done * 100 // total if total else 100
        if self.tty:
            if percent == self.shown and done != total:
                return
            filled = self.WIDTH * percent // 100
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r[{bar}] {percent:3d}% {done}/{total} cases", ending="")
            self.stream.flush()
        elif percent // 10 > self.shown // 10 or (self.shown < 0 and percent == 0):
            self.stream.write(f"{percent}% ({done}/{total} cases)")
        self.shown = percent

    def close(self):
        if self.tty and self.shown >= 0:
            self.stream.write("")


class Command(BaseCommand):
    help = (
        "Verify the hash chain of one case's trail (--case NUMBER or id) or of every case "
        "(--all, the default), with a progress bar on stderr and a summary; a full run is "
        "recorded for the auditors' dashboard."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--case", help="case number (e.g. KN-2026-000001) or id")
        which.add_argument(
            "--all", action="store_true", help="every case (the default without --case)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="processes walking the trails at once (default: one per core)",
        )

    def handle(self, *args, **options):
        if options["case"]:
            self.verify_one(options["case"])
        else:
            if options["workers"] < 1:
                raise CommandError("--workers must be 1 or more.")
            self.verify_all(progress=not options["no_progress"], workers=options["workers"])

    def verify_one(self, ref):
        cases = (
            Case.objects.filter(number=ref)
            if not ref.isdigit()
            else Case.objects.filter(pk=int(ref))
        )
        case = cases.only("pk", "number").first()
        if case is None:
            raise CommandError(f"No case {ref!r}.")
        result = trail.verify(case)
        if not result.valid:
            self.stdout.write(f"BROKEN {case.number}: chain breaks at event {result.broken_at}")
        self.stdout.write(
            f"1 case(s), {result.events} event(s) checked, {0 if result.valid else 1} broken."
        )
        if not result.valid:
            raise CommandError("1 broken trail(s).")

    def verify_all(self, *, progress, workers):
        from reports.models import TrailVerification
        from reports.services import verify_all_trails

        bar = ProgressBar(self.stderr) if progress else None
        try:
            result = verify_all_trails(
                source=TrailVerification.Source.COMMAND, progress=bar, workers=workers
            )
        finally:
            if bar is not None:
                bar.close()
        for entry in result.broken:
            self.stdout.write(
                f"BROKEN {entry['number']}: chain breaks at event {entry['broken_at']}"
            )
        if result.missing:
            self.stdout.write(f"MISSING since the last sealed tally: {result.missing}")
        self.stdout.write(
            f"{result.cases} case(s), {result.events} event(s) checked, "
            f"{len(result.broken)} broken."
        )
        self.stdout.write(f"Took {result.duration.total_seconds():.1f} s; result recorded.")
        if result.broken or result.missing:
            raise CommandError(
                f"{len(result.broken)} broken trail(s)"
                + (", cases removed whole." if result.missing else ".")
            )
