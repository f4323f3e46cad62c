"""Reading printed lists back in tests: the text of a PDF as poppler's pdftotext lays it out (``make print-tools``)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def pdf_text(pdf: Path | bytes) -> str:
    """The text of every page, in layout order (a path, or the PDF's bytes)."""
    source = "-" if isinstance(pdf, bytes) else str(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", source, "-"],
        input=pdf if isinstance(pdf, bytes) else None,
        check=True,
        capture_output=True,
    ).stdout.decode()
