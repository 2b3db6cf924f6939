"""Tokenizers (Kim's `clean_str` and `clean_str_sst`, Unicode words, Chinese words, characters) and the vocabulary.

The schemes (`Tokenizer(name, lowercase, version)`, names in `textcnn.base.config.TOKENIZERS`):

- `kim`, `kim-sst`: Kim's released preprocessing, which deletes everything but ASCII letters, digits and ( ) , ! ? ' `.
- `unicode` (the default for user files): words of letters and digits in scripts written with spaces (Latin,
  Cyrillic, Greek, Arabic, Hangul, Devanagari, ...), keeping apostrophes inside words and combining marks with
  their letters; one token per Han ideograph, Hiragana or Katakana character (`我爱NLP2024！` → 我 爱 nlp2024 ！);
  one token per grapheme cluster of Thai, Lao, Khmer and Myanmar (a vowel sign or tone mark stays with its
  consonant); one token per punctuation mark or symbol, an emoji with its modifiers, ZWJ sequence or flag pair
  as one (`textcnn.data.scripts` says which scripts are written without spaces).
- `jieba`: `unicode`, except that runs of Han characters are cut into Chinese words by the jieba package's
  default mode (`jieba.lcut`, HMM on) — the optional extra `textcnn[zh]`, imported only when this scheme is used.
- `char`: one token per character (grapheme cluster) of every script, spaces dropped: for character-level CNNs.

`lowercase` lowercases every token. `version` is the behaviour a model was trained with (`TOKENIZER_VERSIONS`):
1 is the scheme set before CJK support, where `unicode` kept an unspaced clause as one word (`这部电影非常好看` one
token, `हिन्दी` cut at its vowel signs) and each code point of an emoji sequence was a token; `jieba` and `char` need 2.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

import regex

from ..base.config import TOKENIZER_VERSION, TOKENIZER_VERSIONS, TOKENIZERS
from ..base.errors import CheckpointError, ConfigError
from ..base.tokens import UNK_ID
from .scripts import CJK_CHAR, CLUSTERED_SCRIPTS, cjk_share

PAD, UNK = "<pad>", "<unk>"
KIM_TOKENIZERS = ("kim", "kim-sst")
ZH_EXTRA = 'pip install "textcnn[zh]", or pip install -e ".[zh]" in a clone'

# Kim's released preprocessing (process_data.py): everything outside this set becomes a space.
_KIM_DROP = re.compile(r"[^A-Za-z0-9(),!?'`]")
# Clitics Kim splits off the preceding word: 's 've n't 're 'd 'll.
_KIM_CLITIC = re.compile(r"(n't|'s|'ve|'re|'d|'ll)")
# Kim spaces out these marks. His code writes "\(" etc. as the replacement, which leaves a stray
# backslash in the token; we emit the plain character (a documented deviation).
_KIM_PUNCT = re.compile(r"([,!()?])")
_SPACES = re.compile(r"\s+")
# unicode, version 1: runs of letters/digits of any script (keeping inner apostrophes), or one mark (Python's `re`,
# whose \w leaves out combining marks)
_UNICODE_V1_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]|_")
# unicode, version 2 (`regex`, whose \w includes combining marks): a word of the scripts written with spaces; one
# character (_CLUSTER) that starts with a CJK character or a clustered script's, or with a mark or symbol (an emoji
# with its modifiers); one mark; "_". The alternatives never start on the same character.
_SPACE = r"\s\x1c-\x1f"  # str.isspace(): regex's \s leaves out the information separators U+001C..U+001F
_WORD_CHAR = rf"[^\W_{CJK_CHAR}{CLUSTERED_SCRIPTS}]"
# A grapheme cluster (\X, Unicode UAX #29) and the marks after it: UAX #29 leaves a few spacing vowel signs out of
# their consonant's cluster (Myanmar's ာ U+102C in မာ). Never started on a Prepend character (U+0600 ...): its
# cluster would take the space after it.
_CLUSTER = r"\X\p{M}*"
_NO_PREPEND = r"\p{GCB=Prepend}"
_UNICODE_TOKEN = regex.compile(
    rf"{_WORD_CHAR}+(?:['’]{_WORD_CHAR}+)*|(?=[{CJK_CHAR}{CLUSTERED_SCRIPTS}]){_CLUSTER}"
    rf"|(?=[^\w{_SPACE}{_NO_PREPEND}]){_CLUSTER}|[^\w{_SPACE}]|_"
)
_CHAR_TOKEN = regex.compile(rf"(?=[^{_SPACE}{_NO_PREPEND}]){_CLUSTER}|[^{_SPACE}]")  # spaces dropped
_HAN_RUN = regex.compile(r"\p{Han}+")  # what jieba segments; the rest is tokenised as `unicode` does
# kim/kim-sst on mostly Chinese or Japanese texts: a warning when more than this share of the non-space
# characters of (up to) CJK_SAMPLE evenly spaced training texts is Han or kana
CJK_WARN_SHARE = 0.5
CJK_SAMPLE = 1000


def clean_str(text: str, lowercase: bool = True) -> str:
    """Kim's `clean_str`: ASCII filter, clitics and punctuation split, spaces collapsed."""
    text = _KIM_DROP.sub(" ", text)
    text = _KIM_CLITIC.sub(r" \1", text)
    text = _KIM_PUNCT.sub(r" \1 ", text)
    text = _SPACES.sub(" ", text).strip()
    return text.lower() if lowercase else text


def clean_str_sst(text: str, lowercase: bool = True) -> str:
    """Kim's `clean_str_sst` for the already tokenised SST: ASCII filter and spaces only."""
    text = _SPACES.sub(" ", _KIM_DROP.sub(" ", text)).strip()
    return text.lower() if lowercase else text


def unicode_tokens(text: str, lowercase: bool = True) -> list[str]:
    """Words of spaced scripts, single CJK characters, grapheme clusters of Thai/Lao/Khmer/Myanmar, single marks."""
    return _lowered(_UNICODE_TOKEN.findall(text), lowercase)


def unicode_tokens_v1(text: str, lowercase: bool = True) -> list[str]:
    """`unicode` as tokenizer version 1 had it: runs of letters and digits of any script, single marks."""
    return _lowered(_UNICODE_V1_TOKEN.findall(text), lowercase)


def char_tokens(text: str, lowercase: bool = True) -> list[str]:
    """One token per character (a grapheme cluster: marks stay with their base) of every script; spaces dropped."""
    return _lowered(_CHAR_TOKEN.findall(text), lowercase)


def jieba_tokens(text: str, lowercase: bool = True) -> list[str]:
    """Runs of Han characters cut into words by jieba; everything else as `unicode_tokens` cuts it."""
    jieba, tokens, start = _import_jieba(), [], 0
    for run in _HAN_RUN.finditer(text):
        tokens += unicode_tokens(text[start:run.start()], lowercase)
        tokens += jieba.lcut(run.group())
        start = run.end()
    return tokens + unicode_tokens(text[start:], lowercase)


def _lowered(tokens: list[str], lowercase: bool) -> list[str]:
    return [t.lower() for t in tokens] if lowercase else tokens


def _import_jieba() -> ModuleType:
    """The jieba package, with its start-up messages ("Building prefix dict ...", logged at DEBUG) silenced."""
    try:
        import jieba
    except ImportError as err:
        raise ConfigError(f"the jieba tokenizer needs the jieba package, which is not installed: {ZH_EXTRA}; "
                          "or choose the unicode tokenizer (one token per Chinese character)") from err
    jieba_log = logging.getLogger("jieba")
    if jieba_log.level < logging.WARNING:
        jieba_log.setLevel(logging.WARNING)
    return jieba


def _kim_tokens(text: str, lowercase: bool) -> list[str]:
    return clean_str(text, lowercase).split()


def _kim_sst_tokens(text: str, lowercase: bool) -> list[str]:
    return clean_str_sst(text, lowercase).split()


# the function of each scheme in each tokenizer version
_SCHEMES = {
    1: {"kim": _kim_tokens, "kim-sst": _kim_sst_tokens, "unicode": unicode_tokens_v1},
    2: {"kim": _kim_tokens, "kim-sst": _kim_sst_tokens, "unicode": unicode_tokens, "jieba": jieba_tokens,
        "char": char_tokens},
}


class Tokenizer:
    """Turns a raw string into tokens with one of the named schemes (see the module docstring)."""

    def __init__(self, name: str = "unicode", lowercase: bool = True, version: int = TOKENIZER_VERSION) -> None:
        if name not in TOKENIZERS:
            raise ConfigError(f"tokenizer must be one of {', '.join(TOKENIZERS)}; got {name!r}")
        if version not in TOKENIZER_VERSIONS or isinstance(version, bool):
            raise ConfigError(f"tokenizer version must be one of {', '.join(map(str, TOKENIZER_VERSIONS))}; "
                              f"got {version!r}")
        if name not in _SCHEMES[version]:
            raise ConfigError(f"the {name!r} tokenizer is new in tokenizer version 2; got version {version} "
                              f"(use {TOKENIZER_VERSION}, the default)")
        if name == "jieba":
            _import_jieba()  # fail now, with the extra to install, rather than at the first text
        self.name = name
        self.lowercase = lowercase
        self.version = version

    def __call__(self, text: str) -> list[str]:
        return _SCHEMES[self.version][self.name](text, self.lowercase)

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, lowercase={self.lowercase}, version={self.version})"


def cjk_sample(n: int) -> range:
    """The indices of (up to) CJK_SAMPLE evenly spaced texts out of `n`: those `kim_on_cjk_warning` looks at."""
    return range(0, n, max(1, math.ceil(n / CJK_SAMPLE)))


def kim_on_cjk_warning(tokenizer: Tokenizer, texts: Sequence[str]) -> str | None:
    """The warning to give before fitting Kim's tokenizer on mostly Chinese or Japanese texts (else None).

    Kim's tokenizers keep only ASCII, so such texts lose nearly every token; the message names the schemes to use.
    """
    if tokenizer.name not in KIM_TOKENIZERS or not len(texts):
        return None
    share = cjk_share("".join(texts[i] for i in cjk_sample(len(texts))))
    if share <= CJK_WARN_SHARE:
        return None
    return (f"{share:.0%} of the training text is Chinese or Japanese, which the {tokenizer.name!r} tokenizer "
            "deletes (it keeps only ASCII, as Kim's clean_str does); use tokenizer 'unicode' (one token per "
            f"character, e.g. --tokenizer unicode) or 'jieba' (Chinese words; {ZH_EXTRA})")


class Vocabulary:
    """Word ↔ id mapping with `<pad>` = 0 and `<unk>` = 1; JSON round-trip."""

    def __init__(self, itos: Sequence[str], counts: dict[str, int] | None = None) -> None:
        if list(itos[:2]) != [PAD, UNK]:
            raise ConfigError(f"a vocabulary must start with {PAD}, {UNK}; got {list(itos[:2])}")
        self.itos = list(itos)
        self.stoi = {word: i for i, word in enumerate(self.itos)}
        self.counts = counts or {}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1) -> Vocabulary:
        """Words seen at least `min_freq` times, most frequent first (ties alphabetical)."""
        counts = Counter(token for tokens in token_lists for token in tokens)
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK, *kept], {w: counts[w] for w in kept})

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token ids, unknown words mapped to `<unk>`."""
        return [self.stoi.get(token, UNK_ID) for token in tokens]

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (`{"itos": [...]}`)."""
        Path(path).write_text(json.dumps({"itos": self.itos}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by `save`."""
        try:
            itos = json.loads(Path(path).read_text(encoding="utf-8"))["itos"]
            return cls(itos)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"cannot read vocabulary {path}: {err}") from err
