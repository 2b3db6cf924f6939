"""Writing systems written without spaces between words, as the tokenizers and the explanations need to know them.

Chinese and Japanese (Han ideographs, Hiragana, Katakana) are written without spaces, and each character is a
morpheme, so the `unicode` tokenizer makes each one a token. Thai, Lao, Khmer and Myanmar are written without
spaces too, but their characters combine (a vowel sign or tone mark belongs to its consonant), so they are cut into
grapheme clusters (`regex`'s `\\X`, Unicode UAX #29), never between a mark and its base. Korean (Hangul) is written
with spaces and stays word-based. Joining tokens back for display puts no space next to any of these scripts or
next to CJK and full-width punctuation: `非常 好看` is shown `非常好看`.
"""

from __future__ import annotations

from collections.abc import Sequence

import regex

# one token per character: Han (with 々 and 〆), Hiragana, Katakana (with the prolonged sound mark ー)
CJK_CHAR = r"\p{Han}\p{Hiragana}\p{Katakana}\u3005\u3006\u30fc"
# one token per grapheme cluster: scripts without spaces whose characters combine
CLUSTERED_SCRIPTS = r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
# CJK symbols and punctuation (、。「」…), full-width and half-width forms (！，？ｶ)
_CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef"
_SPACELESS = regex.compile(f"[{CJK_CHAR}{CLUSTERED_SCRIPTS}{_CJK_PUNCT}]")
_CJK = regex.compile(f"[{CJK_CHAR}]")


def is_spaceless(char: str) -> bool:
    """Whether `char` belongs to a script (or CJK punctuation) written without spaces around it."""
    return bool(_SPACELESS.match(char))


def cjk_share(text: str) -> float:
    """The share of the non-space characters of `text` that are Han, Hiragana or Katakana (0 for empty text)."""
    chars = [c for c in text if not c.isspace()]
    return sum(bool(_CJK.match(c)) for c in chars) / len(chars) if chars else 0.0


def join_tokens(tokens: Sequence[str]) -> str:
    """Tokens as text: a space between two tokens, except where either side is a spaceless script's character."""
    out = []
    for token in tokens:
        if out and token and not (is_spaceless(out[-1][-1]) or is_spaceless(token[0])):
            out.append(" ")
        out.append(token)
    return "".join(out)
