"""Printed lists (帳票) of the JPS provision: the one implementation lives in kokunen_common.printing (the counter's
受付処理簿 and 開示請求 export print with it too)."""

from kokunen_common.printing import FONT_NAME, Document, FontMissing, ListColumn, Listing, font_path, render

__all__ = ["FONT_NAME", "Document", "FontMissing", "ListColumn", "Listing", "font_path", "render"]
