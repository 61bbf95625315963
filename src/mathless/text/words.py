"""What counts as a word, for every script.

Most scripts put spaces between words; Chinese, Japanese, Thai, Lao, Khmer and
Myanmar do not, so a whole sentence of them looks like one long "word" to a
splitter that cuts at spaces. Here each character of those scripts is a token
of its own (with word pairs switched on, neighbouring characters pair up too,
the usual way search engines index such text), and a cell's word count
estimates two characters a word.
"""

from __future__ import annotations

import re

# Scripts written without spaces between words (Unicode blocks).
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uff66-\uff9f"  # half-width Katakana
)
# For scikit-learn's TfidfVectorizer: one token per unspaced character, and otherwise runs of
# two or more letters or digits (scikit-learn's own default, which drops one-letter words).
TOKEN_PATTERN = rf"(?u)[{_UNSPACED}]|(?:(?![{_UNSPACED}])\w){{2,}}"
_UNSPACED_CHARACTER = re.compile(rf"[{_UNSPACED}]")


def count_words(texts):
    """Words per cell of a pandas Series of strings: space-separated pieces, plus one word
    per two characters of the scripts that use no spaces."""
    unspaced = texts.str.count(_UNSPACED_CHARACTER.pattern)
    spaced = texts.str.replace(_UNSPACED_CHARACTER.pattern, " ", regex=True).str.split().str.len()
    return spaced + unspaced / 2
