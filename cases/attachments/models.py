"""A file attached to a case: stored under MEDIA_ROOT with a random name, typed by its content
and fingerprinted (sha256) when it was uploaded."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .content import EXTENSIONS


def storage_name(instance, filename):
    """A random name (never the uploader's), grouped by month, with the extension of the type
    the content was found to be."""
    now = timezone.now()
    extension = EXTENSIONS.get(instance.content_type, "")
    return f"attachments/{now:%Y/%m}/{uuid.uuid4().hex}{extension}"


class Attachment(models.Model):
    case = models.ForeignKey(
        "cases.Case",
        models.PROTECT,
        related_name="attachments",
        verbose_name=_("case"),
        db_index=False,  # attachment_case leads with it
    )
    kind = models.CharField(_("kind"), max_length=30)
    file = models.FileField(_("file"), upload_to=storage_name, max_length=200)
    original_name = models.CharField(_("original file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=50)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "pk"]
        indexes = [models.Index(fields=["case", "uploaded_at"], name="attachment_case")]

    def __str__(self):
        return f"{self.case_id} · {self.original_name}"

    @property
    def download_name(self):
        """The uploader's name with the extension of the actual content type (a PNG sent as
        `scan.pdf` downloads as `scan.png`)."""
        stem = (
            self.original_name.rsplit(".", 1)[0]
            if "." in self.original_name
            else self.original_name
        )
        return f"{stem or 'file'}{EXTENSIONS.get(self.content_type, '')}"
