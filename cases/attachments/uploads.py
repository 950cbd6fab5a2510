"""The size limit of an attachment, enforced while the file arrives: past the limit nothing
more of it is kept — not in memory, not in a temporary file — and the rest of the request is
read and dropped so the client still gets its answer. The upload service then refuses the
file by its size ("larger than N MB", naming the field) after the usual reach and permission
checks, so an outsider learns nothing more than with a small file.

The handler must be in place before anything reads the request body: the API view installs it
in `initialize_request`, the page in a CSRF-exempt wrapper around its CSRF-protected view
(Django's CSRF check reads the body)."""

import io

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from core.config import parameter

from .policy import policy_for

MB = 1024 * 1024


class RefusedUpload(UploadedFile):
    """Stands for a file that passed its size limit while arriving. `size` is what had
    arrived by then (more than the limit); the content is not kept."""

    truncated = True

    def __init__(self, *, name, content_type, size):
        super().__init__(file=io.BytesIO(), name=name, content_type=content_type, size=size)


class SizeLimitHandler(FileUploadHandler):
    """First in `request.upload_handlers`: passes each chunk on to Django's handlers (memory or
    temporary file) until the file's running size passes `max_bytes()`, then stops passing
    them on, discards what those handlers held, and answers the file as a RefusedUpload."""

    def __init__(self, request, max_bytes):
        super().__init__(request)
        self._max_bytes = max_bytes  # a callable, asked once, when the first file arrives
        self._limit = None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self._limit is None:
            self._limit = self._max_bytes()
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        if self.over:
            return None
        if self.received > self._limit:
            self.over = True
            self._discard_downstream()
            return None
        return raw_data

    def file_complete(self, file_size):
        if not self.over:
            return None  # the next handler returns the file it kept
        return RefusedUpload(
            name=self.file_name, content_type=self.content_type, size=self.received
        )

    def _discard_downstream(self):
        for handler in self.request.upload_handlers:
            if handler is not self and hasattr(handler, "file"):
                handler.file.close()  # a temporary file is deleted when closed


def case_upload_limit(case_id):
    """Bytes an attachment of case `case_id` may have: the organization's configured limit.
    Zero for a case that does not exist or takes no attachments (the service then answers 404
    or 403 as for any file)."""
    from cases.models import Case

    case = Case.objects.filter(pk=case_id).select_related("organization").first()
    policy = policy_for(case.process) if case is not None else None
    if policy is None:
        return 0
    return int(parameter(policy.max_mb_parameter, organization=case.organization) * MB)


def limit_uploads(request, *, case_id):
    """Install the size limit of case `case_id`'s attachments on `request` (a Django
    HttpRequest whose body has not been read yet)."""
    request.upload_handlers.insert(
        0, SizeLimitHandler(request, max_bytes=lambda: case_upload_limit(case_id))
    )
