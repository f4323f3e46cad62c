"""Printed lists (帳票) as PDF in a Japanese TrueType font from Debian's packages (fonts-ipafont-gothic: IPAゴシック):
the JPS 送付書 and 受付処理簿, the reconciliation report of a processing-result list (transfer_dispatch), and the
counter's 受付処理簿 and 開示請求 export. One layout for all: a cover (title, labelled lines, a small table), then
one or more lists, each starting on a page of its own.

Drawn on a canvas rather than with flowing tables: a weekly list of thousands of lines stays fast and its
pages are predictable. The PDFs are produced ``invariant`` (no creation time, fixed ids), so the same list
prints to the same bytes. No printed list carries My Number: the medium carries it, paper does not.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

FONT_NAME = "IPAGothic"
FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)


class FontMissing(RuntimeError):
    """No Japanese font: install Debian's fonts-ipafont-gothic (``make print-tools``)."""


def font_path() -> Path:
    for candidate in FONT_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FontMissing("IPAゴシック (fonts-ipafont-gothic) がありません: make print-tools で導入してください")


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT_NAME, str(font_path())))


@dataclass(frozen=True)
class ListColumn:
    title: str
    width_mm: float


@dataclass(frozen=True)
class Listing:
    """One list after the cover: a title, its columns, its rows (``該当なし`` when there are none)."""

    title: str
    columns: Sequence[ListColumn]
    rows: Sequence[Sequence[str]]


@dataclass(frozen=True)
class Document:
    """A cover (title and labelled lines, then a small table) followed by a list of rows, and any further lists."""

    title: str
    cover_lines: Sequence[tuple[str, str]]
    summary_title: str
    summary: Sequence[tuple[str, str]]
    list_title: str
    columns: Sequence[ListColumn]
    rows: Sequence[Sequence[str]]
    footer: str
    more_lists: Sequence[Listing] = ()
    cover_notes: Sequence[str] = ()  # paragraphs under the cover's table (a notice, an explanation)

    @property
    def listings(self) -> list[Listing]:
        return [Listing(self.list_title, self.columns, self.rows), *self.more_lists]


def render(doc: Document) -> bytes:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen.canvas import Canvas

    _register_font()
    buffer = io.BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(buffer, pagesize=(width, height), invariant=1, pageCompression=1)
    canvas.setTitle(doc.title)
    canvas.setAuthor(doc.footer)
    margin = 15 * mm
    line = 5.2 * mm
    rows_per_page = int((height - 2 * margin - 22 * mm) // line)
    listings = doc.listings
    pages_of = [max(1, -(-len(listing.rows) // rows_per_page)) for listing in listings]
    total_pages = 1 + sum(pages_of)

    def fit(text: str, size: float, room: float) -> str:
        if len(text) * size <= room:  # no glyph of the font is wider than 1 em: it fits unmeasured
            return text
        while text and stringWidth(text, FONT_NAME, size) > room:
            text = text[:-1]
        return text

    def footer(page: int) -> None:
        canvas.setFont(FONT_NAME, 8)
        canvas.drawString(margin, margin / 2, doc.footer)
        canvas.drawRightString(width - margin, margin / 2, f"{page} / {total_pages} 頁")

    # cover (送付書, 表紙)
    canvas.setFont(FONT_NAME, 18)
    canvas.drawCentredString(width / 2, height - margin - 8 * mm, doc.title)
    y = height - margin - 22 * mm
    canvas.setFont(FONT_NAME, 11)
    for label, value in doc.cover_lines:
        canvas.drawString(margin, y, label)
        canvas.drawString(margin + 45 * mm, y, fit(value, 11, width - 2 * margin - 45 * mm))
        y -= 7 * mm
    y -= 4 * mm
    canvas.setFont(FONT_NAME, 12)
    canvas.drawString(margin, y, doc.summary_title)
    y -= 7 * mm
    canvas.setFont(FONT_NAME, 11)
    for label, value in doc.summary:
        canvas.drawString(margin + 5 * mm, y, label)
        canvas.drawRightString(margin + 110 * mm, y, value)
        canvas.line(margin + 5 * mm, y - 1.5 * mm, margin + 110 * mm, y - 1.5 * mm)
        y -= 6.5 * mm
    y -= 4 * mm
    canvas.setFont(FONT_NAME, 9.5)
    for note in doc.cover_notes:
        canvas.drawString(margin, y, fit(note, 9.5, width - 2 * margin))
        y -= 5.5 * mm
    footer(1)
    canvas.showPage()

    page_number = 1
    for listing, pages in zip(listings, pages_of, strict=True):
        for page in range(pages):
            page_number += 1
            canvas.setFont(FONT_NAME, 13)
            canvas.drawString(margin, height - margin, listing.title)
            y = height - margin - 10 * mm
            canvas.setFont(FONT_NAME, 8.5)
            x = margin
            for column in listing.columns:
                canvas.drawString(x, y, column.title)
                x += column.width_mm * mm
            canvas.line(margin, y - 1.5 * mm, width - margin, y - 1.5 * mm)
            y -= line
            # One text object per page (not one per cell): a list of thousands of lines stays fast.
            text = canvas.beginText()
            text.setFont(FONT_NAME, 8.5)
            for row in listing.rows[page * rows_per_page : (page + 1) * rows_per_page]:
                x = margin
                for column, value in zip(listing.columns, row, strict=True):
                    if value:
                        text.setTextOrigin(x, y)
                        text.textOut(fit(value, 8.5, column.width_mm * mm - 1.5 * mm))
                    x += column.width_mm * mm
                y -= line
            canvas.drawText(text)
            if not listing.rows:
                canvas.drawString(margin, y, "該当なし")
            footer(page_number)
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()
