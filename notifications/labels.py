"""What a notification is about, in words: the `verb` the code passes to notify() is a code
("task_overdue"). Every verb passed to notify() has a label here (tests/core/
test_admin_labels.py finds them in the source)."""

from django.utils.translation import pgettext_lazy

# Under the context "notification": the same English words name trail events and statuses,
# which may read differently in Chinese.
VERBS = {
    # tasks and steps (approvals)
    "task_created": pgettext_lazy("notification", "New task"),
    "task_due_soon": pgettext_lazy("notification", "Task due soon"),
    "task_overdue": pgettext_lazy("notification", "Task overdue"),
    "task_urged": pgettext_lazy("notification", "Task urged"),
    "task_transferred": pgettext_lazy("notification", "Task transferred"),
    "task_resumed": pgettext_lazy("notification", "Task back after a consultation"),
    "task_returned": pgettext_lazy("notification", "Task back when a delegation ended"),
    "task_canceled": pgettext_lazy("notification", "Task no longer needed"),
    "approver_withdrawn": pgettext_lazy("notification", "Added approver withdrawn"),
    "step_decided": pgettext_lazy("notification", "Step decided"),
    "step_unstaffed": pgettext_lazy("notification", "Nobody may decide a step"),
    # cases (cases.services.finish_case: "case_" + the final status)
    "case_approved": pgettext_lazy("notification", "Case approved"),
    "case_rejected": pgettext_lazy("notification", "Case rejected"),
    "case_closed": pgettext_lazy("notification", "Case closed"),
    "case_withdrawn": pgettext_lazy("notification", "Case withdrawn"),
    "case_cc": pgettext_lazy("notification", "Copied on a case"),
    # hardship aid
    "hardship_submitted_for_you": pgettext_lazy(
        "notification", "Aid application submitted for you"
    ),
    "hardship_notice": pgettext_lazy("notification", "Public notice started"),
    "hardship_exit_notice": pgettext_lazy("notification", "Exit notice started"),
    "hardship_objection": pgettext_lazy("notification", "Objection during the notice"),
    "hardship_disbursed": pgettext_lazy("notification", "Aid paid"),
    "hardship_review_opened": pgettext_lazy("notification", "Register entry due for review"),
    "hardship_register_retained": pgettext_lazy("notification", "Register entry kept"),
    "hardship_register_closed": pgettext_lazy("notification", "Register entry closed"),
    # mediation ("mediation_recusal_" + the decided status)
    "mediation_recorded": pgettext_lazy("notification", "Mediation application recorded"),
    "mediation_accepted": pgettext_lazy("notification", "Mediation application accepted"),
    "mediation_declined": pgettext_lazy("notification", "Mediation application declined"),
    "mediation_mediator_assigned": pgettext_lazy("notification", "Mediator assigned"),
    "mediation_recusal_requested": pgettext_lazy("notification", "Recusal requested"),
    "mediation_recusal_granted": pgettext_lazy("notification", "Recusal granted"),
    "mediation_recusal_refused": pgettext_lazy("notification", "Recusal refused"),
    "mediation_mediator_unavailable": pgettext_lazy("notification", "Mediator unavailable"),
    "mediation_agreement_reached": pgettext_lazy("notification", "Agreement reached"),
    "mediation_ready_for_seal": pgettext_lazy("notification", "Agreement awaits the seal"),
    "mediation_agreement_effective": pgettext_lazy("notification", "Agreement in effect"),
    "mediation_agreement_withdrawn": pgettext_lazy("notification", "Agreement withdrawn"),
    "mediation_agreement_lapsed": pgettext_lazy("notification", "Agreement lapsed"),
    "mediation_no_agreement": pgettext_lazy("notification", "No agreement"),
    "mediation_not_performed": pgettext_lazy("notification", "Agreement not performed"),
    "mediation_performance_due": pgettext_lazy("notification", "Performance follow-up due"),
    "mediation_term_extended": pgettext_lazy("notification", "Mediation term extended"),
    "mediation_term_due_soon": pgettext_lazy("notification", "Mediation term ending soon"),
    "mediation_expired": pgettext_lazy("notification", "Mediation term ended"),
    # fee remittance
    "remittance_step": pgettext_lazy("notification", "Remittance step decided"),
    "remittance_due_soon": pgettext_lazy("notification", "Remittance due soon"),
    "remittance_overdue": pgettext_lazy("notification", "Remittance overdue"),
}


def verb_label(code):
    return VERBS.get(code, code)
