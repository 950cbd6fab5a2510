"""Uploading an attachment: who may, which kinds, how large, which content; the file is stored
under a random name and the upload recorded in the case's trail, in one transaction."""

import hashlib

from django.db import transaction
from django.utils.translation import gettext as _

from cases import trail
from cases.models import Case
from cases.selectors import case_in_reach
from core import memo
from core.config import parameter
from core.errors import Conflict, Forbidden, Invalid, NotFound
from workflows.base import registered

from .content import HEADER_BYTES, NAMES, safe_filename, sniff
from .models import Attachment
from .policy import policy_for

MB = 1024 * 1024


def _read(upload):
    """(header, sha256) of an uploaded file, read in chunks (large files are on disk)."""
    digest = hashlib.sha256()
    header = b""
    upload.seek(0)
    for chunk in upload.chunks():
        if len(header) < HEADER_BYTES:
            header += chunk[: HEADER_BYTES - len(header)]
        digest.update(chunk)
    upload.seek(0)
    return header, digest.hexdigest()


def _type_names(content_types):
    return ", ".join(NAMES[t] for t in content_types)


def _check_may_upload(policy, user, case):
    allowed, reason = policy.may_upload(user, case)
    if not allowed:
        if reason == "case_closed":
            raise Conflict(
                _("The case is no longer in progress; nothing can be added."), code="case_closed"
            )
        raise Forbidden(_("Only the applicant and the officers acting on the case may add files."))


def _lock_case(case):
    """The case read afresh and locked as a withdrawal locks it (its process row first, then the
    case row), until the surrounding transaction ends: the decision to accept a file is made on
    the case as it is, and a withdrawal either comes before it or waits for it."""
    flow_class = registered().get(case.process)
    if flow_class is not None and case.flow_process_id is not None:
        with flow_class.lock(case.flow_process_id):
            pass  # held until the transaction ends
    return Case.objects.select_for_update().select_related("organization").get(pk=case.pk)


def upload(*, case_id, user, file, kind):
    """Attach `file` (an UploadedFile) of `kind` to the case. 404 outside the user's reach,
    403 for people who may not add to it, 409 once the applicant's case is closed, 400 for a
    wrong kind, size or content."""
    case = case_in_reach(user, case_id)
    if case is None:
        raise NotFound(_("Case not found."))
    policy = policy_for(case.process)
    if policy is None:
        raise Forbidden(_("This kind of case takes no attachments."))
    _check_may_upload(policy, user, case)

    errors = {}
    if kind not in policy.kind_values():
        errors["kind"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(policy.kind_values())}
        ]
    if file is None:
        errors["file"] = [_("Attach a file.")]
        raise Invalid(_("The file cannot be accepted."), fields=errors)
    max_mb = parameter(policy.max_mb_parameter, organization=case.organization)
    if file.size == 0:
        errors["file"] = [_("The file is empty.")]
    elif file.size > max_mb * MB or getattr(file, "truncated", False):
        errors["file"] = [
            _("The file is larger than %(max)s MB.") % {"max": f"{max_mb.normalize():f}"}
        ]
    content_type = None
    digest = ""
    if "file" not in errors:
        header, digest = _read(file)
        content_type = sniff(header)
        if content_type not in policy.content_types:
            errors["file"] = [
                _("Only %(types)s files are accepted; this file's content is none of them.")
                % {"types": _type_names(policy.content_types)}
            ]
    if errors:
        raise Invalid(_("The file cannot be accepted."), fields=errors)

    attachment = Attachment(
        case=case,
        kind=kind,
        original_name=safe_filename(file.name),
        content_type=content_type,
        size=file.size,
        sha256=digest,
        uploaded_by=user,
    )
    # The file is written first; if the database part fails it is removed again, so neither a
    # row without a file nor (for long) a file without a row remains.
    attachment.file.save("upload", file, save=False)
    try:
        with memo.operation(), trail.acting(actor=user), transaction.atomic():
            # Checked again under the lock: the case may have been withdrawn meanwhile. A refusal
            # here removes the file written above (below).
            case = _lock_case(case)
            _check_may_upload(policy, user, case)
            attachment.case = case
            attachment.save()
            trail.append(
                case,
                "attachment.uploaded",
                actor=user,
                data={
                    "attachment": attachment.pk,
                    "kind": kind,
                    "filename": attachment.original_name,
                    "content_type": content_type,
                    "size": attachment.size,
                    "sha256": digest,
                },
            )
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return attachment
