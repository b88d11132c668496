"""The comparison key of place names: case, accents and punctuation variants ignored."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_SPACES = re.compile(r"[\s\-\u2010-\u2015]+")


def fold(name: str) -> str:
    """The key two spellings of one place share.

    NFKD decomposition with the combining marks dropped (``"São"`` -> ``"sao"``),
    case-folded, typographic apostrophes made ``'``, hyphens made spaces and runs of
    whitespace made one space: ``"Pingo-d\u2019Água"`` and ``"pingo d'agua"`` have one key.

    Args:
        name: A place name as a user typed it.

    Returns:
        The key.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", bare.casefold().translate(_APOSTROPHES)).strip()
