"""Attachments in the browser: the case's files with download links and the upload form (a
section any process panel includes, and a page of its own that shows an upload refused with
the reason next to the field), and the download. The same services and reach checks as the
API: a case or file out of reach is 404."""

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_safe

from cases.selectors import case_in_reach
from core.config import parameter
from core.errors import DomainError
from core.ui import OnceForm, form_error, once, page, refuse

from . import services
from .content import NAMES
from .models import Attachment
from .policy import policy_for
from .uploads import limit_uploads


class UploadForm(OnceForm):
    kind = forms.ChoiceField(label=gettext_lazy("What is it?"))
    file = forms.FileField(
        label=gettext_lazy("File"),
        # Django's own "empty file" check would pre-empt the service's message; it decides.
        allow_empty_file=True,
        widget=forms.FileInput,
    )

    def __init__(self, *args, policy, max_mb=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "—"), *policy.kinds]
        # The phone's picker offers only files of these types; the service checks the content.
        self.fields["file"].widget.attrs["accept"] = ",".join(policy.content_types)
        types = ", ".join(NAMES[t] for t in policy.content_types)
        if max_mb is not None:
            self.fields["file"].help_text = _("%(types)s, at most %(max)s MB.") % {
                "types": types,
                "max": f"{max_mb.normalize():f}",
            }
        else:
            self.fields["file"].help_text = types


def _case_or_404(request, pk):
    case = case_in_reach(request.user, pk)
    if case is None:
        raise Http404
    return case


def _max_mb(policy, case):
    return parameter(policy.max_mb_parameter, organization=case.organization)


def _kind_labels(policy):
    return dict(policy.kinds) if policy else {}


def attachment_rows(case, policy=None):
    """The case's files, oldest first, each with the label of its kind."""
    policy = policy or policy_for(case.process)
    labels = _kind_labels(policy)
    rows = list(Attachment.objects.filter(case=case).select_related("uploaded_by"))
    for row in rows:
        row.kind_label = labels.get(row.kind, row.kind)
    return rows


def section(request, case, *, form=None, next_url=None):
    """Context of the attachments section ("attachments/section.html"): the files and, for
    those who may add one now, the upload form that returns to `next_url` (the page showing
    the section)."""
    policy = policy_for(case.process)
    if policy is None:
        return None
    may_upload, _reason = policy.may_upload(request.user, case)
    if may_upload and form is None:
        form = UploadForm(policy=policy, max_mb=_max_mb(policy, case), auto_id="id_upload_%s")
    return {
        "case": case,
        "attachments": attachment_rows(case, policy),
        "form": form if may_upload else None,
        "next": next_url or request.get_full_path(),
    }


def _next_or_case(request, case):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("case-detail", kwargs={"pk": case.pk})


@csrf_exempt
def case_attachments(request, pk):
    """GET: the case's files and the upload form. POST (multipart): upload, then back to the
    page the form was on; a refused file is shown again here with the reason.

    CSRF is checked by the view inside, once the upload size limit is in place (the check
    reads the body)."""
    if request.method == "POST":
        limit_uploads(request, case_id=pk)
    return _case_attachments(request, pk)


@csrf_protect
@page("cases")
def _case_attachments(request, pk):
    case = _case_or_404(request, pk)
    if request.user.pk in (case.applicant_id, case.submitted_by_id):
        request.nav_section = "mine"
    policy = policy_for(case.process)
    if policy is None:
        raise Http404
    form = None
    if request.method == "POST":
        form = UploadForm(
            request.POST,
            request.FILES,
            policy=policy,
            max_mb=_max_mb(policy, case),
            auto_id="id_upload_%s",
        )
        if form.is_valid():
            try:

                def upload():
                    attachment = services.upload(
                        case_id=case.pk,
                        user=request.user,
                        file=form.cleaned_data["file"],
                        kind=form.cleaned_data["kind"],
                    )
                    messages.success(
                        request,
                        _("%(name)s has been added to the case.")
                        % {"name": attachment.original_name},
                    )
                    return _next_or_case(request, case)

                return redirect(once(request, form, upload))
            except DomainError as exc:
                if policy.may_upload(request.user, case)[0]:
                    form_error(request, form, exc)
                else:  # the form is not shown to those who may not upload: say why on top
                    refuse(request, exc)
    context = section(request, case, form=form, next_url=_next_or_case(request, case))
    return render(
        request,
        "attachments/page.html",
        {"case": case, "section": context},
    )


@require_safe
@page("cases")
def download(request, pk):
    """The file itself, to anyone with its case in reach (404 otherwise)."""
    attachment = Attachment.objects.filter(pk=pk).first()
    if attachment is None or case_in_reach(request.user, attachment.case_id) is None:
        raise Http404
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.download_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
