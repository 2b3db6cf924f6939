"""Word vectors → embedding matrix: streaming loaders, OOV initialisation, coverage report.

Formats read by `load_vectors`:

* ``.kv`` — gensim native (`KeyedVectors.save`), memory-mapped read-only.
* ``.bin`` — word2vec C binary: a ``"count dim"`` header line, then per word its UTF-8 bytes,
  a space, ``dim`` little-endian float32 values and an optional newline.
* anything else — text: word2vec/fastText ``.vec`` (first line ``"count dim"``) or headerless GloVe
  (``word v1 .. vd``, ``dim`` taken from the first line). A trailing ``.gz`` is read through gzip.
* ``"gensim-data:NAME"`` — `gensim.downloader.load(NAME)`, the only path that downloads.

The binary and text readers stream: they read the file once and keep only the rows asked for, so
memory follows the kept words, not the file (GoogleNews is 3.6 GB on disk).
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import torch

from ..base.atomic import atomic_write
from ..base.config import FILL_CHANNEL, OOV_INITS
from ..base.errors import ConfigError, DataError, VectorsError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors  # imported where used: gensim takes ~1 s, and predict never needs it

log = logging.getLogger(__name__)

GENSIM_DATA_PREFIX = "gensim-data:"
VECTORS_ENV = "TEXTCNN_VECTORS"  # vectors to use when none are passed (a path, as --vectors takes)
OOV_RANGE = 0.25  # U[-0.25, 0.25] for unknown words, Kim's released code (process_data.py add_unknown_words)
LOW_COVERAGE_PERCENT = 50.0  # below this the tokenizer and the vectors most likely disagree (e.g. casing)
MAX_WORD_BYTES = 1 << 16  # no real word is this long; stops a non-word2vec .bin being read whole as one word
ACCEPTED_FORMATS = (
    "gensim .kv, word2vec binary .bin, word2vec/fastText text with a 'count dim' header, "
    f"headerless GloVe text (any of the text forms may be .gz), or '{GENSIM_DATA_PREFIX}NAME'"
)

# ---------------------------------------------------------------------------------------- loading


def load_vectors(source: str | os.PathLike | KeyedVectors, words: Iterable[str] | None = None) -> KeyedVectors:
    """Load word vectors from a KeyedVectors object, a file, or an explicit ``gensim-data:NAME``.

    Args:
        source: vectors object (returned as is), file path, or ``"gensim-data:NAME"``.
        words: when given, the streaming readers keep only these words and their lowercase forms
            (GloVe is uncased); ``None`` keeps every row. Ignored for ``.kv`` files and downloads.
    """
    from gensim.models import KeyedVectors

    if isinstance(source, KeyedVectors):
        return source
    if isinstance(source, str) and source.startswith(GENSIM_DATA_PREFIX):
        return _download(source[len(GENSIM_DATA_PREFIX) :])
    path = Path(source)
    if not path.is_file():
        raise VectorsError(f"word-vectors file not found: {path}; accepted: {ACCEPTED_FORMATS}")
    if path.suffix == ".kv":
        return _load_native(path)
    wanted = None if words is None else _with_lowercase(words)
    with _open_binary(path) as f:
        if _inner_suffix(path) == ".bin":
            keys, rows, dim = _read_word2vec_binary(f, path, wanted)
        else:
            keys, rows, dim = _read_text(f, path, wanted)
    log.info("kept %d vectors of size %d from %s", len(keys), dim, path)
    return _to_keyed_vectors(keys, rows, dim)


def _download(name: str) -> KeyedVectors:
    import gensim.downloader  # imported here: only an explicit gensim-data name ever downloads
    from gensim.models import KeyedVectors

    try:
        vectors = gensim.downloader.load(name)
    except Exception as err:  # the downloader raises bare Exception, ValueError and URLError alike
        raise VectorsError(
            f"download of gensim-data model {name!r} failed ({err}); pass a local vectors file instead"
        ) from err
    if not isinstance(vectors, KeyedVectors):
        raise VectorsError(f"gensim-data {name!r} is a {type(vectors).__name__}, not word vectors")
    return vectors


def _load_native(path: Path) -> KeyedVectors:
    from gensim.models import KeyedVectors

    try:
        vectors = KeyedVectors.load(str(path), mmap="r")
    except Exception as err:  # unpickling a foreign file can raise almost anything
        raise VectorsError(f"{path} is not a gensim KeyedVectors .kv file ({err})") from err
    if not isinstance(vectors, KeyedVectors):
        raise VectorsError(f"{path} holds a {type(vectors).__name__}, not gensim KeyedVectors")
    return vectors


def _with_lowercase(words: Iterable[str]) -> set[str]:
    wanted = set(words)
    return wanted | {w.lower() for w in wanted}


def _inner_suffix(path: Path) -> str:
    """The suffix that names the format: ``x.bin.gz`` → ``.bin``."""
    return Path(path.stem).suffix if path.suffix == ".gz" else path.suffix


def _open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _decode_word(raw: bytes) -> str:
    """UTF-8, or latin-1 for a word that is not valid UTF-8 (old C tools wrote both)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _to_keyed_vectors(keys: list[str], rows: list[np.ndarray], dim: int) -> KeyedVectors:
    from gensim.models import KeyedVectors

    vectors = KeyedVectors(vector_size=dim)
    matrix = np.stack(rows) if rows else np.empty((0, dim), dtype=np.float32)
    vectors.add_vectors(keys, matrix)
    return vectors


def _parse_header(line: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` when the line is two positive integers, else None."""
    fields = line.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        return None
    count, dim = int(fields[0]), int(fields[1])
    return (count, dim) if dim > 0 else None


# ---------------------------------------------------------------------------------------- binary


def _read_word2vec_binary(f: BinaryIO, path: Path, wanted: set[str] | None) -> tuple[list[str], list[np.ndarray], int]:
    header = _parse_header(f.readline())
    if header is None:
        raise VectorsError(f"{path}: first line is not 'count dim'; is it a word2vec binary file?")
    count, dim = header
    keys, rows, seen = [], [], set()
    for i in range(count):
        word = _decode_word(_read_binary_word(f, path, i, count))
        data = f.read(4 * dim)  # float32: 4 bytes each
        if len(data) != 4 * dim:
            raise VectorsError(f"{path} is truncated: vector {i + 1} of {count} is incomplete")
        if (wanted is None or word in wanted) and word not in seen:
            seen.add(word)
            keys.append(word)
            rows.append(np.frombuffer(data, dtype="<f4").astype(np.float32))
    return keys, rows, dim


def _read_binary_word(f: BinaryIO, path: Path, index: int, count: int) -> bytes:
    """Bytes up to the next space, without the newline that some writers put after each vector."""
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = f.peek(1)
        if not chunk:
            raise VectorsError(f"{path} is truncated: the header promises {count} vectors, found {index}")
        end = chunk.find(b" ")
        part = f.read(len(chunk) if end < 0 else end + 1)
        parts.append(part)
        size += len(part)
        if end >= 0:
            return b"".join(parts)[:-1].lstrip(b"\n")
        if size > MAX_WORD_BYTES:
            raise VectorsError(f"{path}: word {index + 1} has no end after {size} bytes; not word2vec binary")


# ------------------------------------------------------------------------------------------ text


def _read_text(f: BinaryIO, path: Path, wanted: set[str] | None) -> tuple[list[str], list[np.ndarray], int]:
    first = f.readline()
    if not first.strip():
        raise VectorsError(f"{path} is empty or starts with a blank line; accepted: {ACCEPTED_FORMATS}")
    header = _parse_header(first)
    if header is None:
        f.seek(0)  # GloVe: the first line is already a row
        count, dim = None, len(first.split()) - 1
    else:
        count, dim = header
    if dim < 1:
        raise VectorsError(f"{path}: first line {first[:80]!r} holds no vector values")
    keys, rows, seen, n_rows = [], [], set(), 0
    for line_no, word, values in _text_rows(f, 2 if header else 1):
        n_rows += 1
        keep = (wanted is None or word in wanted) and word not in seen
        if keep or n_rows == 1:  # always parse row 1, so a non-vectors file fails even when filtered
            vector = _parse_values(values, dim, path, line_no)
        if keep:
            seen.add(word)
            keys.append(word)
            rows.append(vector)
    if count is not None and n_rows < count:
        raise VectorsError(f"{path} is truncated: the header promises {count} vectors, found {n_rows}")
    if not n_rows:
        raise VectorsError(f"{path} has no vectors; accepted: {ACCEPTED_FORMATS}")
    return keys, rows, dim


def _text_rows(f: BinaryIO, first_line_no: int) -> Iterator[tuple[int, str, bytes]]:
    """(line number, word, unparsed values) per non-blank line; values are parsed only for kept rows."""
    for line_no, line in enumerate(f, start=first_line_no):
        fields = line.split(maxsplit=1)
        if fields:
            yield line_no, _decode_word(fields[0]), fields[1] if len(fields) > 1 else b""


def _parse_values(values: bytes, dim: int, path: Path, line_no: int) -> np.ndarray:
    fields = values.split()
    if len(fields) != dim:
        raise VectorsError(f"{path} line {line_no}: {len(fields)} values, expected {dim} like the first row")
    try:
        return np.array(fields, dtype=np.float32)
    except ValueError as err:
        raise VectorsError(f"{path} line {line_no}: non-numeric value ({err}); not a vectors file") from err


# --------------------------------------------------------------------------------------- matrix


@dataclass(frozen=True)
class Coverage:
    """How much of a vocabulary the pretrained vectors cover, by type and by token."""

    types_found: int
    types_total: int
    tokens_found: int
    tokens_total: int

    @property
    def types_percent(self) -> float:
        """Percentage (0..100) of vocabulary types that have a vector; 0.0 for an empty vocabulary."""
        return 100.0 * self.types_found / self.types_total if self.types_total else 0.0

    @property
    def tokens_percent(self) -> float:
        """Percentage (0..100) of training tokens whose type has a vector; 0.0 with no tokens."""
        return 100.0 * self.tokens_found / self.tokens_total if self.tokens_total else 0.0

    def __str__(self) -> str:
        return (
            f"vectors cover {self.types_percent:.1f}% of {self.types_total:,} vocabulary types "
            f"and {self.tokens_percent:.1f}% of {self.tokens_total:,} tokens"
        )


def build_embedding_matrix(
    itos: Sequence[str],
    vectors: KeyedVectors | None,
    dim: int,
    *,
    counts: Mapping[str, int] | None = None,
    oov_init: str = "uniform",
    oov_range: float = OOV_RANGE,
    generator: torch.Generator | None = None,
    specials: int = 2,
) -> tuple[torch.Tensor, Coverage]:
    """The (len(itos), dim) float32 embedding matrix and its vector coverage.

    Row 0 (``<pad>``) is zero. A word takes ``vectors[word]``, else ``vectors[word.lower()]``; the other
    special rows and words without a vector are drawn from U[-a, a] with ``generator``, where a is
    ``oov_range`` ("uniform") or matches the variance of the found vectors ("match").
    ``vectors=None`` makes every non-pad row random (Kim's ``rand`` variant).

    Args:
        counts: token frequency per word, to weight the token coverage; None counts each type once.
        specials: leading entries of ``itos`` that are special tokens and never looked up.
    """
    if oov_init not in OOV_INITS:
        raise ConfigError(f"oov_init must be one of {', '.join(OOV_INITS)}; got {oov_init!r}")
    if specials < 1:
        raise ConfigError(f"specials must be at least 1 (index 0 is <pad>); got {specials!r}")
    if vectors is not None and vectors.vector_size != dim:
        raise VectorsError(
            f"vectors have size {vectors.vector_size} but embedding_dim is {dim}; "
            f"set embedding_dim={vectors.vector_size} or use {dim}-dimensional vectors"
        )
    found = _find_rows(itos, vectors, specials)  # index → key in vectors
    pretrained = vectors[list(found.values())] if found else np.empty((0, dim), dtype=np.float32)
    scale = _oov_scale(pretrained, oov_init, oov_range)
    matrix = torch.empty(len(itos), dim).uniform_(-scale, scale, generator=generator)  # (V, E)
    if found:
        matrix[list(found)] = torch.as_tensor(np.asarray(pretrained, dtype=np.float32))
    matrix[0] = 0.0
    coverage = _coverage(itos, set(found), counts, specials)
    if vectors is None:
        return matrix, coverage
    log.info("%s", coverage)
    if coverage.types_total and coverage.types_percent < LOW_COVERAGE_PERCENT:
        warnings.warn(f"low coverage: {coverage}; check the tokenizer and casing", stacklevel=2)
    return matrix, coverage


def _find_rows(itos: Sequence[str], vectors: KeyedVectors | None, specials: int) -> dict[int, str]:
    if vectors is None:
        return {}
    found = {}
    for index in range(specials, len(itos)):
        word = itos[index]
        for key in (word, word.lower()):
            if key in vectors.key_to_index:
                found[index] = key
                break
    return found


def _oov_scale(pretrained: np.ndarray, oov_init: str, oov_range: float) -> float:
    """Half-width a of U[-a, a]; "match": Var U[-a, a] = a²/3 equals the pretrained entries' variance."""
    if oov_init == "uniform" or pretrained.size == 0:
        return oov_range
    variance = float(np.var(pretrained, dtype=np.float64))
    return math.sqrt(3.0 * variance)


def _coverage(itos: Sequence[str], found: set[int], counts: Mapping[str, int] | None, specials: int) -> Coverage:
    weights = [1 if counts is None else counts.get(itos[i], 0) for i in range(len(itos))]
    types = range(specials, len(itos))
    return Coverage(
        types_found=len(found),
        types_total=len(types),
        tokens_found=sum(weights[i] for i in found),
        tokens_total=sum(weights[i] for i in types),
    )


# ------------------------------------------------------------------------------ train and save


def _stable_hash(text: str) -> int:
    """A process-independent hash; gensim's default, the built-in `hash`, is salted per process."""
    return zlib.crc32(text.encode("utf-8"))


# word2vec trained here sees only the training texts, a few thousand of them in Kim's datasets, where gensim's
# defaults for large corpora (CBOW, 5 epochs) leave most words near their tiny random starting vectors: with those,
# seed 0 reached dev 79.3 on TREC and 63.2 on SST-2 sentences (Kim's random vectors: 86.8 and 78.8); skip-gram,
# which learns rare words better, with 20 epochs reached 88.8 and 81.9 (README "Data and vectors", chosen on dev)
WORD2VEC_SKIP_GRAM = True
WORD2VEC_EPOCHS = 20


def train_word2vec(
    sentences: Sequence[Sequence[str]],
    dim: int = 300,
    *,
    seed: int = 0,
    workers: int = 1,
    epochs: int = WORD2VEC_EPOCHS,
    min_count: int = 1,
    skip_gram: bool = WORD2VEC_SKIP_GRAM,
) -> KeyedVectors:
    """Train word2vec (window 5; skip-gram, 20 epochs unless told otherwise: see WORD2VEC_EPOCHS) on tokenised
    sentences, and centre the vectors (subtract their mean).

    With ``workers=1`` and a fixed ``seed`` two runs give identical vectors; more workers are faster
    but the thread schedule changes the result.
    """
    from gensim.models import Word2Vec

    log.info("no word vectors given: training word2vec (%s, size %d, %d epochs) on %d sentences",
             "skip-gram" if skip_gram else "CBOW", dim, epochs, len(sentences))
    model = Word2Vec(
        vector_size=dim,
        window=5,
        sg=int(skip_gram),
        min_count=min_count,
        seed=seed,
        workers=workers,
        epochs=epochs,
        hashfxn=_stable_hash,
    )
    model.build_vocab(sentences)
    if not len(model.wv):
        raise DataError(f"no word occurs at least min_count={min_count} times in {len(sentences)} sentences")
    model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    vectors = model.wv
    # on a small corpus every vector shares one large direction (mean pairwise cosine 0.98 on the 60 demo sentences,
    # 0.88 on TREC, 0.76 on SST-2): removing it took the demo set from test 0.56 to 0.88 and left TREC and SST-2 as
    # they were (README "Data and vectors")
    vectors.vectors -= vectors.vectors.mean(axis=0)
    vectors.fill_norms(force=True)
    return vectors


def train_fasttext(
    sentences: Sequence[Sequence[str]], dim: int = 100, *, seed: int = 0, workers: int = 1, epochs: int = 5,
    min_count: int = 1,
) -> KeyedVectors:
    """Train gensim's FastText (CBOW with character 3-6-grams, Bojanowski et al. 2017) on tokenised sentences."""
    from gensim.models import FastText

    log.info("training fastText (size %d) on %d sentences", dim, len(sentences))
    model = FastText(vector_size=dim, window=5, sg=0, min_count=min_count, seed=seed, workers=workers,
                     epochs=epochs, hashfxn=_stable_hash)
    model.build_vocab(sentences)
    if not len(model.wv):
        raise DataError(f"no word occurs at least min_count={min_count} times in {len(sentences)} sentences")
    model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    return model.wv


# an extra_vectors entry sized by its name: vectors trained here, or a random channel (group 1: kind, group 2: size)
SIZED_SOURCE = re.compile(r"^(word2vec|fasttext|rand):([1-9][0-9]*)$")


def resolve_extra_vectors(
    source: str, words: Sequence[str], tokens: Sequence[Sequence[str]] | None, *, seed: int, deterministic: bool,
) -> tuple[KeyedVectors | None, int]:
    """(vectors, channel size) of one `DataConfig.extra_vectors` entry: a file (as `load_vectors` reads),
    "word2vec:DIM" / "fasttext:DIM" trained here on `tokens`, or "rand:DIM", no vectors at all (None: every row
    random, as in Kim's `rand` variant); FILL_CHANNEL is (None, 0) until `fill_channel` sizes it. A fastText model
    gives every word of `words` a vector (from its character n-grams), so the channel has no random rows but the
    special ones."""
    if source == FILL_CHANNEL:  # sized by `fill_channel` once every other channel's width is known
        return None, 0
    trained = SIZED_SOURCE.match(source)
    if trained is None:
        loaded = load_vectors(source, words=words)
        return loaded, loaded.vector_size
    kind, dim = trained.group(1), int(trained.group(2))
    if kind == "rand":
        return None, dim
    if tokens is None:
        raise ConfigError(f"extra vectors {source!r} are trained on the training texts, which this path does not "
                          "keep in memory (--on-disk); give a vectors file instead")
    workers = 1 if deterministic else min(4, os.cpu_count() or 1)
    if kind == "word2vec":
        return train_word2vec(tokens, dim, seed=seed, workers=workers), dim
    from gensim.models import KeyedVectors

    subword = train_fasttext(tokens, dim, seed=seed, workers=workers)
    vocabulary = list(words[2:])  # not <pad>/<unk>: rows 0-1 stay special
    vectors = KeyedVectors(vector_size=dim)
    if vocabulary:  # every word gets a vector: its own, or (rarer than min_count) one built from its n-grams
        vectors.add_vectors(vocabulary, np.stack([subword[w] for w in vocabulary]))
    return vectors, dim


def fill_channel(extras: Sequence[tuple[Any, int]], sources: Sequence[str], width: int,
                 target: int) -> list[tuple[Any, int]]:
    """`extras`, resolved from `sources`, with the FILL_CHANNEL entry (if any) sized to widen one token's embedding
    from `width` (the variant's vectors) plus the other extra channels to `target`, or dropped when they reach it."""
    size = target - width - sum(dim for source, (_, dim) in zip(sources, extras) if source != FILL_CHANNEL)
    return [(None, size) if source == FILL_CHANNEL else extra for source, extra in zip(sources, extras)
            if source != FILL_CHANNEL or size > 0]


def vectors_source(vectors: Any) -> Any:
    """`vectors` as given, else $TEXTCNN_VECTORS, else None (word2vec will be trained)."""
    return vectors if vectors is not None else os.environ.get(VECTORS_ENV) or None


def resolve_vectors(
    vectors: Any, words: Sequence[str], tokens: Sequence[Sequence[str]] | None, dim: int, *, seed: int,
    deterministic: bool,
) -> tuple[KeyedVectors, KeyedVectors | None]:
    """(vectors for `words`, the word2vec vectors trained here or None) from `vectors`, $TEXTCNN_VECTORS or `tokens`.

    Without a source, `train_word2vec` trains vectors of size `dim` on `tokens` (one worker when `deterministic`).
    """
    source = vectors_source(vectors)
    if source is not None:
        return load_vectors(source, words=words), None
    if tokens is None:
        raise ConfigError(f"no vectors to start from: pass vectors=PATH (--vectors) or set ${VECTORS_ENV}")
    log.info("no --vectors and no $%s: training word2vec on the %d training texts", VECTORS_ENV, len(tokens))
    workers = 1 if deterministic else min(4, os.cpu_count() or 1)
    trained = train_word2vec(tokens, dim, seed=seed, workers=workers)
    return trained, trained


def save_vectors(vectors: KeyedVectors, path: str | os.PathLike) -> None:
    """Write vectors as word2vec text with a header, readable by `load_vectors` and other tools."""
    try:
        atomic_write(Path(path), lambda tmp: vectors.save_word2vec_format(os.fspath(tmp), binary=False))
    except OSError as err:
        raise VectorsError(f"cannot write word vectors to {path}: {err}") from err
