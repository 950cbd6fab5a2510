"""What a file is, decided by its first bytes (magic numbers), never by its name or the type
the client claims; and a safe version of the name it was uploaded under."""

import re
import unicodedata

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
NAMES = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}
ALLOWED_TYPES = (PDF, JPEG, PNG)

# Enough leading bytes to recognize every type above.
HEADER_BYTES = 16


def sniff(header):
    """The content type of a file starting with `header`, or None when it is none we know."""
    if header.startswith(b"%PDF-"):
        return PDF
    if header.startswith(b"\xff\xd8\xff"):
        return JPEG
    # PNG signature, then the first chunk must be the image header.
    if header.startswith(b"\x89PNG\r\n\x1a\n") and header[12:16] == b"IHDR":
        return PNG
    return None


_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*]')
# Invisible characters that change how a name reads: bidirectional overrides and isolates
# (U+202A–U+202E, U+2066–U+2069: "invoice\u202efdp.exe" shows as "invoiceexe.pdf"), zero-width
# characters, and anything unassigned, private or a lone surrogate.
_INVISIBLE_CATEGORIES = {"Cf", "Cn", "Co", "Cs"}
MAX_NAME = 120


def safe_filename(name):
    """The uploader's file name, fit for a Content-Disposition header and a log: no directory
    part, no control, invisible or reserved characters, no leading dots (nor trailing dots and
    spaces), at most 120 characters (the extension kept). Chinese names stay readable."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)
    name = _UNSAFE.sub("_", name)
    name = " ".join(name.split()).lstrip(".").rstrip(". ").strip()
    if len(name) > MAX_NAME:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_NAME - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME]
    return name or "file"
