"""The engine benchmark's own arithmetic (bench/engine.py): operations are counted one per
service call, each a transaction of its own, and the figures it reports come from them."""

from django.test import modify_settings

from bench.engine import Driver, Figures, hardship_case, run_process


def test_a_case_counts_each_service_call_as_one_operation(demo):
    """A festival aid case: the submission, then a claim and a decision for each of the five
    tasks (grassroots review, two home visits, town review, disbursement)."""
    driver = Driver()
    hardship_case(driver, 0)
    assert driver.operations == 1 + 2 * 5


@modify_settings(INSTALLED_APPS={"append": "bench.baseline"})  # as bench.settings adds it
def test_the_reported_figures_follow_from_the_counts(demo):
    driver = Driver()
    process, baseline = run_process("remittance", 2, driver, budget=60)
    assert (process.cases, process.operations) == (2, 2 * 7)  # declare, three claims and decisions
    assert process.transitions == 2 * 5
    # Two cycles: start, claim and decision each; start, approval, If and End finished.
    assert (baseline.cases, baseline.operations, baseline.transitions) == (2, 6, 8)
    total = process + baseline
    assert (total.cases, total.operations, total.transitions) == (4, 20, 18)
    assert process.ms_per_transition == process.seconds * 1000 / 10
    assert process.ms_per_operation == process.seconds * 1000 / 14
    assert Figures(1, 2.0, 4, 3).ms_per_operation == 2000 / 3
