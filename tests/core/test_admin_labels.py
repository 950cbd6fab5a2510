"""Every label of the project's admin is translated: column headers, filter titles and their
choices, actions, fieldset titles and field labels. They are read in a made-up language in
which every string that goes through gettext comes out marked (⟪…⟫): a label that does not
(a field without verbose_name, a list_display method without a description, a string frozen
at import) comes out bare and fails. And where the admin shows a code that has a label (a
trail action, a task's status, decision and kind, a step, a parameter's key, a notification's
verb), it shows the label."""

import ast
import re
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import (
    AllValuesFieldListFilter,
    BooleanFieldListFilter,
    ChoicesFieldListFilter,
    SimpleListFilter,
)
from django.contrib.admin.helpers import flatten_fieldsets
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.admin.utils import label_for_field
from django.test import RequestFactory
from django.utils import translation
from django.utils.translation import trans_real
from django.utils.translation.trans_real import CONTEXT_SEPARATOR, DjangoTranslation

from approvals import spec as decisions
from approvals.models import CaseTask, TaskKind
from cases.labels import decision_label
from cases.models import FINAL_STATUSES
from core.config import LABELS, parameter_label
from core.models import Parameter
from notifications.labels import VERBS, verb_label
from notifications.models import Channel, Delivery, Notification
from organizations.models import Role
from tests.hardship.helpers import ric_number
from tests.hardship.helpers import submit as submit_hardship
from tests.helpers import post

pytestmark = pytest.mark.django_db

LANGUAGE = "zh-hans"
OPEN, CLOSE = "⟪", "⟫"

# The project's own apps (third-party admins, such as auth's or axes', are theirs to translate).
OURS = (
    "approvals",
    "cases",
    "core",
    "notifications",
    "organizations",
    "reports",
    "workflows",
)


class Marked(DjangoTranslation):
    """A language in which every message is marked instead of translated."""

    def gettext(self, message):
        return f"{OPEN}{message.split(CONTEXT_SEPARATOR, 1)[-1]}{CLOSE}"

    def ngettext(self, singular, plural, number):
        return self.gettext(singular if number == 1 else plural)


@pytest.fixture
def marked(monkeypatch):
    """The site's language, marked: every request (the superuser's language is zh-hans) and
    everything read inside `with translation.override(LANGUAGE)`."""
    monkeypatch.setitem(trans_real._translations, LANGUAGE, Marked(LANGUAGE))
    yield
    translation.activate(LANGUAGE)  # drop the marked object from this thread
    translation.deactivate()


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(
        "label-admin", "admin@example.org", "x", language=LANGUAGE
    )


def _ours(model_admin):
    return type(model_admin).__module__.split(".")[0] in OURS


REGISTERED = sorted(
    (model._meta.label for model, ma in admin.site._registry.items() if _ours(ma)),
)


def _model_admin(label):
    return next(ma for model, ma in admin.site._registry.items() if model._meta.label == label)


def _request(user, path="/admin/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def _filter_name(spec):
    return getattr(spec, "field_path", None) or spec.parameter_name


def changelist_labels(model_admin, cl, request):
    """(what, text) of the model's names and of every column header, filter title, filter
    choice with a label and action of the list. A filter that lists a column's stored values
    (Django's for a column without choices) is reported as ("raw values of NAME", None)."""
    opts = model_admin.model._meta
    yield "verbose_name", opts.verbose_name
    yield "verbose_name_plural", opts.verbose_name_plural
    for name, header in zip(cl.list_display, result_headers(cl), strict=True):
        if name != "action_checkbox":
            yield f"column {name}", header["text"]
    for spec in cl.filter_specs:
        name = _filter_name(spec)
        yield f"filter {name}", spec.title
        if isinstance(spec, AllValuesFieldListFilter):
            yield f"raw values of {name}", None
        if isinstance(spec, ChoicesFieldListFilter | BooleanFieldListFilter | SimpleListFilter):
            for choice in spec.choices(cl):
                yield f"choice of filter {name}", choice["display"]
    for _name, description in model_admin.get_action_choices(request)[1:]:
        yield "action", description


def changeform_labels(model_admin, request):
    """(what, text) of every fieldset title and field label of the change page (as the
    superuser sees it: read-only fields where the admin allows no change), inlines included."""
    fieldsets = model_admin.get_fieldsets(request)
    if isinstance(model_admin, admin.options.InlineModelAdmin):
        form = model_admin.get_formset(request).form
    else:
        form = model_admin.get_form(request, None)
    readonly = set(model_admin.get_readonly_fields(request))
    if not model_admin.has_change_permission(request):
        readonly |= set(flatten_fieldsets(fieldsets))
    for title, options in fieldsets:
        if title is not None:
            yield "fieldset", title
        for name in flatten_fieldsets([(title, options)]):
            if name in readonly:
                label = label_for_field(name, model_admin.model, model_admin)
            else:
                label = form.base_fields[name].label
            yield f"field {name}", label
    if not isinstance(model_admin, admin.options.InlineModelAdmin):
        for inline in model_admin.get_inline_instances(request):
            yield from changeform_labels(inline, request)


# Column filters that list the stored values as they are: values that are their own label
# (a period such as "2026-03", a MIME type).
ALLOWED = {
    ("remittance.Remittance", "raw values of period"): {None},
    ("attachments.Attachment", "raw values of content_type"): {None},
    # Names, not words: the same in every language.
    ("reports.ExportJob", "choice of filter format"): {"Excel (.xlsx)", "CSV", "PDF"},
}


def _untranslated(label, model_admin, what, text):
    """None if the label is translated (or allowed as it is), else what and the text."""
    if (label, what) in ALLOWED and (text if text is None else str(text)) in ALLOWED[label, what]:
        return None
    if (
        what in ("column id", "field id")
        and str(text) == "ID"
        and model_admin.model._meta.get_field("id").auto_created
    ):
        return None  # Django's own label of an automatic primary key (not a gettext string)
    if text is None or OPEN not in str(text) or CLOSE not in str(text):
        return f"{what}: {text!r}"
    return None


@pytest.mark.parametrize("label", REGISTERED)
def test_every_admin_label_is_translated(label, client, superuser, marked):
    model_admin = _model_admin(label)
    opts = model_admin.model._meta
    client.force_login(superuser)
    response = client.get(f"/admin/{opts.app_label}/{opts.model_name}/")
    assert response.status_code == 200
    assert OPEN in response.content.decode()  # the page itself is in the marked language
    with translation.override(LANGUAGE):
        cl = response.context["cl"]
        labels = [
            *changelist_labels(model_admin, cl, response.wsgi_request),
            *changeform_labels(model_admin, _request(superuser)),
        ]
        bare = [_untranslated(label, model_admin, what, text) for what, text in labels]
    bare = [b for b in bare if b]
    assert not bare, f"{label}: labels not translated:\n" + "\n".join(bare)


def _cells(page, column):
    """The texts of a list's column (the first one, a link to the row, is a heading cell)."""
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(rf'<t[dh] class="field-{column}[^"]*">(.*?)</t[dh]>', page, re.S)
    ]


def test_codes_are_shown_by_their_labels(demo, api, client, superuser, marked):
    """The trail's actions, steps and roles, a case's process and outcome, a task's step,
    status, role, decision and kind, and an attachment's kind: the admin lists them as the
    pages name them."""
    case = submit_hardship(api, demo.worker1)
    uploaded = api(demo.worker1).post(
        f"/api/v1/cases/{case.pk}/attachments/",
        {"kind": "income_proof", "file": _pdf()},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.json()
    withdrawn = submit_hardship(api, demo.worker2, id_number=ric_number(2))
    post(api(demo.worker2), f"/api/v1/cases/{withdrawn.pk}/withdraw/", {"reason": "不再需要"})
    task = CaseTask.objects.filter(case=case).exclude(candidate_role="").first()
    client.force_login(superuser)

    def page(path):
        response = client.get(path)
        assert response.status_code == 200, path
        return response.content.decode()

    def marked_(text):
        return f"{OPEN}{text}{CLOSE}"

    with translation.override(LANGUAGE):
        node_title = str(task.flow_task.task_title)
    trail = page("/admin/cases/trailevent/")
    assert marked_("Submitted") in _cells(trail, "action_name")
    assert "case.submitted" not in " ".join(_cells(trail, "action_name"))
    assert node_title.startswith(OPEN) and node_title in _cells(trail, "step_name")
    filtered = page("/admin/cases/trailevent/?action=case.withdrawn")
    assert _cells(filtered, "action_name") == [marked_("Withdrawn")]

    cases = page("/admin/cases/case/")
    assert set(_cells(cases, "process_name")) == {marked_("Hardship aid")}
    assert marked_("withdrawn") in _cells(cases, "outcome_name")
    assert "withdrawn" not in _cells(cases, "outcome_name")

    tasks = page("/admin/approvals/casetask/")
    assert node_title in _cells(tasks, "step_name")
    assert marked_("Waiting to be claimed") in _cells(tasks, "status_name")
    with translation.override(LANGUAGE):
        role = str(Role(task.candidate_role).label)
    assert role.startswith(OPEN) and role in _cells(tasks, "role_name")
    assert task.candidate_role not in _cells(tasks, "role_name")

    files = page("/admin/attachments/attachment/")
    assert _cells(files, "kind_name") == [marked_("Proof of income")]

    # The change pages open, with the labels.
    event = case.trail.get(action="case.submitted")
    assert marked_("Submitted") in page(f"/admin/cases/trailevent/{event.pk}/change/")
    assert marked_("Waiting to be claimed") in page(f"/admin/approvals/casetask/{task.pk}/change/")
    page(f"/admin/cases/case/{case.pk}/change/")
    page(f"/admin/hardship/hardshipapplication/{case.hardship.pk}/change/")

    # A task's decision and kind: their labels, where the codes would be.
    task_page = page(f"/admin/approvals/casetask/{task.pk}/change/")
    assert _readonly(task_page, "kind_name") == marked_("Approval")
    assert _readonly(task_page, "decision_name") in ("", "-")  # not decided yet
    CaseTask.objects.filter(pk=task.pk).update(decision=decisions.SENT_BACK, kind=TaskKind.CONSULT)
    task_page = page(f"/admin/approvals/casetask/{task.pk}/change/")
    assert _readonly(task_page, "decision_name") == marked_("Sent back")
    assert _readonly(task_page, "kind_name") == marked_("Consulted approver")
    assert not re.search(r'field-(decision|kind)[" ]', task_page)  # the codes are not shown
    CaseTask.objects.filter(pk=task.pk).update(decision=decisions.APPROVE)
    task_page = page(f"/admin/approvals/casetask/{task.pk}/change/")
    assert _readonly(task_page, "decision_name") == marked_("Approve")


def _readonly(page, name):
    """The text of the change page's read-only field `name`."""
    found = re.search(
        rf'<div class="form-row[^"]*field-{name}[^"]*">.*?<div class="readonly">(.*?)</div>',
        page,
        re.S,
    )
    assert found, f"no read-only field {name}"
    return found.group(1).strip()


def _marked(text):
    return f"{OPEN}{text}{CLOSE}"


def test_every_decision_a_task_records_has_a_label(marked):
    codes = (
        decisions.APPROVE,
        decisions.REJECT,
        decisions.RETURN,
        decisions.RESUBMIT,
        decisions.SUBMIT,
        decisions.SKIPPED,
        decisions.SENT_BACK,
    )
    with translation.override(LANGUAGE):
        bare = [code for code in codes if not str(decision_label(code)).startswith(OPEN)]
    assert not bare, f"decisions without a label: {bare}"


# --- parameters -------------------------------------------------------------------------------


def test_every_parameter_has_a_label(marked):
    keys = {k for k in settings.UNIONFLOW_PARAMETERS if not k.startswith("tests.")}
    assert keys - set(LABELS) == set(), "parameters without a label (core.config.PARAMETERS)"
    with translation.override(LANGUAGE):
        bare = [key for key in keys if not str(parameter_label(key)).startswith(OPEN)]
    assert not bare, f"labels not translated: {bare}"


def test_parameters_are_shown_by_their_labels(client, superuser, marked):
    key, other = "approvals.delegation_max_days", "remittance.due_day"
    label = _marked("Approvals: longest delegation (days)")
    row = Parameter.objects.create(key=key, effective_from=date(2000, 1, 1), value=30)
    Parameter.objects.create(key=other, effective_from=date(2000, 1, 1), value=20)
    client.force_login(superuser)

    def page(path):
        response = client.get(path)
        assert response.status_code == 200, path
        return response

    listed = page("/admin/core/parameter/")
    html = listed.content.decode()
    assert label in _cells(html, "key_name")
    assert key in _cells(html, "key")  # the key is still there
    with translation.override(LANGUAGE):
        filter_spec = next(
            s for s in listed.context["cl"].filter_specs if s.parameter_name == "key"
        )
        offered = {str(c["display"]) for c in filter_spec.choices(listed.context["cl"])}
    assert label in offered and key not in offered
    filtered = page(f"/admin/core/parameter/?key={key}").content.decode()
    assert _cells(filtered, "key_name") == [label]
    # Found by a word of its name (in the reader's language), not only by its key.
    found = page("/admin/core/parameter/?q=longest+delegation").content.decode()
    assert _cells(found, "key_name") == [label]

    change = page(f"/admin/core/parameter/{row.pk}/change/").content.decode()
    assert _readonly(change, "key_name") == label
    assert label in page("/admin/core/parameter/add/").content.decode()  # the key's choices


# --- notifications ----------------------------------------------------------------------------

# Verbs put together from a template (an f-string) and every value they take.
VERB_TEMPLATES = {
    "case_{}": [str(status) for status in FINAL_STATUSES],  # cases.services.finish_case
    "mediation_recusal_{}": ["granted", "refused"],  # cases.mediation.services.decide_recusal
}
ROOT = Path(__file__).resolve().parents[2]


def _verbs(node, where):
    """The verbs an expression passed as notify(verb=…) can be."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _verbs(node.body, where) | _verbs(node.orelse, where)
    if isinstance(node, ast.JoinedStr):
        template = "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
        assert template in VERB_TEMPLATES, f"{where}: add the values of {template!r}"
        return {template.format(value) for value in VERB_TEMPLATES[template]}
    raise AssertionError(f"{where}: pass notify() a verb written out (a string literal)")


def notified_verbs():
    """{verb: where} of every notify(verb=…) in the project's code (tests excluded)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if parts[0] in ("tests", "node_modules") or any(p.startswith(".") for p in parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name != "notify":
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            verb = next((k.value for k in node.keywords if k.arg == "verb"), None)
            assert verb is not None, f"{where}: notify() without verb="
            for code in _verbs(verb, where):
                found.setdefault(code, where)
    return found


def test_every_verb_passed_to_notify_has_a_label(marked):
    found = notified_verbs()
    assert len(found) > 30 and "task_overdue" in found and "case_approved" in found
    missing = {verb: where for verb, where in found.items() if verb not in VERBS}
    assert not missing, f"verbs without a label (notifications.labels.VERBS): {missing}"
    with translation.override(LANGUAGE):
        bare = [verb for verb in VERBS if not str(verb_label(verb)).startswith(OPEN)]
    assert not bare, f"labels not translated: {bare}"


def test_notifications_are_shown_by_their_labels(client, superuser, marked):
    told = Notification.objects.create(
        recipient=superuser, event="task:1:overdue", verb="task_overdue", title="t"
    )
    Notification.objects.create(
        recipient=superuser, event="task:2:opened", verb="task_created", title="t"
    )
    emailed = Delivery.objects.create(
        event="task:1:overdue",
        channel=Channel.EMAIL,
        recipient=superuser,
        dedupe_key="task:1:overdue|email|1",
    )
    posted = Delivery.objects.create(  # a webhook's payload names its verb
        event="case:3:cc",
        channel=Channel.EMAIL,
        recipient=superuser,
        dedupe_key="case:3:cc|email|1",
        payload={"verb": "case_cc"},
    )
    client.force_login(superuser)

    def page(path):
        response = client.get(path)
        assert response.status_code == 200, path
        return response

    overdue, created = _marked("Task overdue"), _marked("New task")
    listed = page("/admin/notifications/notification/")
    assert sorted(_cells(listed.content.decode(), "verb_name")) == sorted([overdue, created])
    with translation.override(LANGUAGE):
        filter_spec = next(
            s for s in listed.context["cl"].filter_specs if s.parameter_name == "verb"
        )
        offered = {str(c["display"]) for c in filter_spec.choices(listed.context["cl"])}
    assert {overdue, created} <= offered and "task_overdue" not in offered
    filtered = page("/admin/notifications/notification/?verb=task_overdue").content.decode()
    assert _cells(filtered, "verb_name") == [overdue]

    shown = page(f"/admin/notifications/notification/{told.pk}/change/").content.decode()
    assert _readonly(shown, "verb_name") == overdue
    assert not re.search(r'field-verb[" ]', shown)  # the code is not shown
    shown = page(f"/admin/notifications/delivery/{emailed.pk}/change/").content.decode()
    assert _readonly(shown, "verb_name") == overdue
    shown = page(f"/admin/notifications/delivery/{posted.pk}/change/").content.decode()
    assert _readonly(shown, "verb_name") == _marked("Copied on a case")


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "证明.pdf", b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n", "application/pdf"
    )
