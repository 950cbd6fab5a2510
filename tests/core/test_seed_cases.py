from django.core.management import call_command

from cases.models import Case


def test_seed_cases_builds_a_demo_in_every_process_once(demo, capsys):
    call_command("seed_cases")
    assert set(Case.objects.values_list("process", flat=True)) == {
        "hardship",
        "mediation",
        "remittance",
    }
    count = Case.objects.count()
    call_command("seed_cases")
    assert Case.objects.count() == count
    assert "nothing to do" in capsys.readouterr().out
