"""Receipt uploads: only PDF, JPEG and PNG files up to 10 MB, recognised by their content, not their name.

A browser's content type and the file's extension are whatever the client says; the first bytes are
what the file is. An executable renamed `receipt.pdf` starts with `MZ` (Windows) or `\\x7fELF` (Linux)
and is refused.
"""

import uuid
from dataclasses import dataclass

from core.errors import ValidationFailed

MAX_RECEIPT_BYTES = 10 * 1024 * 1024

SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)
EXECUTABLE_SIGNATURES = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa")


@dataclass(frozen=True)
class Receipt:
    content_type: str
    extension: str
    size: int
    original_name: str


def sniff_receipt(upload) -> Receipt:
    """Check an uploaded file and say what it is; ValidationFailed (field `receipt`) when it is not a
    PDF, JPEG or PNG of at most 10 MB."""
    size = upload.size
    name = (getattr(upload, "name", "") or "receipt").rsplit("/", 1)[-1][:200]
    if size is None or size == 0:
        raise ValidationFailed("The receipt file is empty.", fields={"receipt": ["The file is empty."]})
    if size > MAX_RECEIPT_BYTES:
        megabytes = size / (1024 * 1024)
        raise ValidationFailed(
            f"The receipt is {megabytes:.1f} MB; receipts may be at most 10 MB.",
            fields={"receipt": ["At most 10 MB."]},
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    for signature, content_type, extension in SIGNATURES:
        if head.startswith(signature):
            return Receipt(content_type, extension, size, name)
    if head.startswith(EXECUTABLE_SIGNATURES):
        raise ValidationFailed(
            f"'{name}' is a program, not a receipt, whatever its name says; upload a PDF, JPEG or PNG.",
            fields={"receipt": ["This file is a program, not a PDF, JPEG or PNG."]},
        )
    raise ValidationFailed(
        f"'{name}' is not a PDF, JPEG or PNG file (its content says otherwise); upload one of those.",
        fields={"receipt": ["Only PDF, JPEG or PNG files."]},
    )


def stored_name(receipt: Receipt) -> str:
    """A fresh name for storage: nothing of the client's file name reaches the file system."""
    return f"{uuid.uuid4().hex}{receipt.extension}"
