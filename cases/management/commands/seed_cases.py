"""Demo cases in each process at different steps, created through the same serializers and
services as the API (so everything is trailed and notified). Idempotent: does nothing when
cases already exist."""

from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from approvals import services as approvals
from approvals.models import OPEN_STATUSES, CaseTask
from cases.models import Case
from organizations.models import Organization, User


def ric(first17):
    """A resident ID number with its GB 11643 check character."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def _user(name):
    return User.objects.get(username=name)


def _open(case, step):
    return CaseTask.objects.get(
        case=case, status__in=OPEN_STATUSES, flow_task__endswith=f".{step}", kind="approval"
    )


def _decide(case, step, username, decision="approve", **data):
    task = _open(case, step)
    return approvals.complete(task_id=task.pk, user=_user(username), decision=decision, data=data)


class Command(BaseCommand):
    help = "Create demo cases of the three processes (after seed_demo). Idempotent."

    def handle(self, *args, **options):
        if not User.objects.filter(username="worker1").exists():
            raise CommandError("Run seed_demo first.")
        if Case.objects.exists():
            self.stdout.write("Cases exist already; nothing to do.")
            return
        self.hardship()
        self.mediation()
        self.remittance()
        self.stdout.write(f"{Case.objects.count()} demo cases created.")

    def hardship(self):
        from cases.hardship.api import ApplicationIn
        from cases.hardship.services import submit_application

        def apply(username, **body):
            serializer = ApplicationIn(data=body)
            serializer.is_valid(raise_exception=True)
            return submit_application(user=_user(username), **serializer.validated_data)

        medical = apply(
            "worker1",
            aid_type="medical",
            id_number=ric("11010519800101001"),
            household_size=3,
            annual_income="24000.00",
            rigid_expenses="6000.00",
            requested_amount="3000.00",
            reason="爱人患重病住院，医疗费用负担重。",
        )
        _decide(medical, "grassroots_review", "chair1")
        apply(
            "worker2",
            aid_type="file",
            id_number=ric("11010519850505002"),
            household_size=4,
            annual_income="30000.00",
            rigid_expenses="2000.00",
            requested_amount="2000.00",
            reason="家庭收入低于低保标准，申请建档。",
        )
        apply(
            "worker4",
            aid_type="emergency",
            id_number=ric("11010519900909003"),
            household_size=2,
            annual_income="40000.00",
            rigid_expenses="0",
            requested_amount="1500.00",
            reason="家中遭遇火灾，申请临时救助。",
        )

    def mediation(self):
        from cases.mediation.api import ApplicationSerializer
        from cases.mediation.services import submit_application

        serializer = ApplicationSerializer(
            data={
                "organization": Organization.objects.get(name="东湖镇总工会").pk,
                "channel": "written",
                "applicant_name": "杨工人",
                "applicant_id_number": ric("11010519880303004"),
                "applicant_phone": "13800138000",
                "employer_name": "东湖机械厂",
                "employer_credit_code": "91330100MA2B3C4D5N",
                "category": "pay",
                "claim_amount": "8600.00",
                "facts": "2026年10月、11月工资未按时足额发放。",
                "known_on": (timezone.localdate() - timedelta(days=10)).isoformat(),
            }
        )
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        case = submit_application(
            user=_user("worker1"), organization=values.pop("organization"), **values
        )
        _decide(case, "acceptance", "med_head")

    def remittance(self):
        from cases.remittance.services import declare

        period = (timezone.localdate().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        first = declare(
            user=_user("treasurer1"),
            period=period,
            payroll_total=Decimal("100000.00"),
            headcount=120,
            member_count=100,
        )
        _decide(first, "chair_approval", "chair1")
        declare(
            user=_user("treasurer3"),
            period=period,
            payroll_total=Decimal("56000.00"),
            headcount=60,
            member_count=58,
        )
