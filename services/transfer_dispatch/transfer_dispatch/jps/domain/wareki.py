"""和暦 for the JPS forms and lists: the one implementation lives in kokunen_common.wareki (the counter's pages
show the same dates)."""

from kokunen_common.wareki import ERAS, Era, Wareki, WarekiError, both, era_of, from_code, to_wareki, wareki_text

__all__ = ["ERAS", "Era", "Wareki", "WarekiError", "both", "era_of", "from_code", "to_wareki", "wareki_text"]
