"""Tokenizers (Kim's `clean_str`, `clean_str_sst`, and a Unicode-aware one) and the vocabulary."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..base.errors import CheckpointError, ConfigError
from ..base.tokens import UNK_ID

PAD, UNK = "<pad>", "<unk>"

# Kim's released preprocessing (process_data.py): everything outside this set becomes a space.
_KIM_DROP = re.compile(r"[^A-Za-z0-9(),!?'`]")
# Clitics Kim splits off the preceding word: 's 've n't 're 'd 'll.
_KIM_CLITIC = re.compile(r"(n't|'s|'ve|'re|'d|'ll)")
# Kim spaces out these marks. His code writes "\(" etc. as the replacement, which leaves a stray
# backslash in the token; we emit the plain character (a documented deviation).
_KIM_PUNCT = re.compile(r"([,!()?])")
_SPACES = re.compile(r"\s+")
# Unicode tokenizer: runs of letters/digits of any script (keeping inner apostrophes), or one mark.
_UNICODE_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]|_")


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
    """Words of every script (letters and digits) and single punctuation marks."""
    tokens = _UNICODE_TOKEN.findall(text)
    return [t.lower() for t in tokens] if lowercase else tokens


class Tokenizer:
    """Turns a raw string into tokens with one of the named schemes: kim, kim-sst, unicode."""

    def __init__(self, name: str = "unicode", lowercase: bool = True) -> None:
        if name not in ("kim", "kim-sst", "unicode"):
            raise ConfigError(f"tokenizer must be one of kim, kim-sst, unicode; got {name!r}")
        self.name = name
        self.lowercase = lowercase

    def __call__(self, text: str) -> list[str]:
        if self.name == "kim":
            return clean_str(text, self.lowercase).split()
        if self.name == "kim-sst":
            return clean_str_sst(text, self.lowercase).split()
        return unicode_tokens(text, self.lowercase)

    def __repr__(self) -> str:
        return f"Tokenizer({self.name!r}, lowercase={self.lowercase})"


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
