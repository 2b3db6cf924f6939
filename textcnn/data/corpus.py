"""Training files larger than memory: tokenised once with `datasets` into a memory-mapped cache.

Each step is cached on disk and keyed by its inputs, so a second run over the same file starts at the
first step whose inputs changed (a new min_freq re-counts and re-encodes, but does not re-tokenise):

    file ─ parsed row by row ──▶ rows: text, label, line   Arrow, Dataset.from_file (memory-mapped)
         ─ map(batched=True) ──▶ tokens, n_tokens          Arrow (datasets' map cache)
         ─ value_counts ───────▶ Vocabulary                counted in pyarrow, training rows only
         ─ map(batched=True) ──▶ ids: list<int32>          Arrow; one vectorised lookup per chunk
         ─ one sequential copy ▶ ids-*.npy (int32), offsets-*.npy (int64) → np.load(mmap_mode="c") → TokenIds

Why the last copy: an Arrow file holds one record batch per ROWS_PER_CHUNK rows, so the ids of a corpus are
not one contiguous buffer, while `TokenIds.flat` is one tensor that a batch is gathered from. One sequential
copy into a .npy gives that tensor as a memory map. Its pages are file-backed (RssFile, not RssAnon), so the
kernel drops them under pressure and they are never the process's own memory. No text or token list of the
corpus is ever a Python object: Python holds ROWS_PER_CHUNK rows at a time, while reading and tokenising.
What does grow with the corpus in RAM is per-sentence bookkeeping: int64 labels, the sentence lengths
and each epoch's batch plan (benchmarks/scale.py measures it).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch import Tensor

from ..base.errors import ConfigError, DataError
from .batches import TokenIds
from .files import (
    FILE_FORMATS,
    Row,
    csv_rows,
    encode_labels,
    is_int_label,
    jsonl_rows,
    train_label_names,
    tsv_rows,
)
from .tokenizer import PAD, UNK, Tokenizer, Vocabulary, cjk_sample, kim_on_cjk_warning

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when a cached step's output changes meaning, so old caches are not reused
ROWS_PER_CHUNK = 10_000  # rows per map call and per Arrow record batch: bounds the RAM a step takes


@dataclass
class EncodedSplit:
    """One split: token ids (`ids.flat` memory-mapped int32) and int64 labels indexing the label names."""

    ids: TokenIds
    labels: Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Corpus:
    """A training file encoded for `TextCNNClassifier.fit_corpus`: train and dev splits, vocabulary, label names."""

    train: EncodedSplit
    dev: EncodedSplit
    vocab: Vocabulary
    label_names: list[str]


def encode_corpus(
    train_file: str | os.PathLike, dev_file: str | os.PathLike | None = None, *, tokenizer: Tokenizer | None = None,
    min_freq: int = 1, max_tokens: int | None = None, dev_fraction: float = 0.1, seed: int = 0,
    text_column: str = "text", label_column: str = "label", cache_dir: str | os.PathLike | None = None,
    num_proc: int | None = None, progress: bool = False,
) -> Corpus:
    """Tokenise a .tsv/.csv/.jsonl training file into the cache, build its vocabulary and encode it.

    The files are read as `textcnn.data.files.load_files` reads them (same columns, header rule, label names and
    errors). Without `dev_file`, `dev_fraction` of the training rows are held out as dev (stratified, `seed`):
    the rows `textcnn.data.splits.split_off_dev` holds out of the same file in memory. The vocabulary comes from the
    training rows only. `cache_dir`: default `<datasets cache>/textcnn` ($HF_DATASETS_CACHE).
    """
    tokenizer = tokenizer or Tokenizer()
    options = {"tokenizer": tokenizer, "max_tokens": max_tokens, "text_column": text_column,
               "label_column": label_column, "cache_dir": cache_dir, "num_proc": num_proc}
    with _progress_bars(progress):
        rows = _read_rows(train_file, text_column, label_column, _cache_root(cache_dir))
        labels, names = _train_labels(rows, str(train_file))
        warning = kim_on_cjk_warning(tokenizer, rows.select(cjk_sample(len(rows)))["text"])
        if warning:
            warnings.warn(warning, stacklevel=3)  # at the caller of fit_corpus
        held = None if dev_file is not None else _dev_rows(labels, dev_fraction, seed)
        tokens = _tokenize(rows, tokenizer, max_tokens, num_proc)
        vocab = _vocabulary(_count_tokens(tokens, None if held is None else ~held), min_freq)
        encoded = _encode(tokens, vocab, num_proc)
        if held is None:
            train = EncodedSplit(_token_ids(encoded, None), torch.from_numpy(labels))
            dev = encode_file(dev_file, vocab, names, **options)
        else:
            train = EncodedSplit(_token_ids(encoded, ~held), torch.from_numpy(labels[~held]))
            dev = EncodedSplit(_token_ids(encoded, held), torch.from_numpy(labels[held]))
    log.info("%s: %d training and %d dev sentences, %d training tokens, vocabulary %d", Path(train_file).name,
             len(train), len(dev), len(train.ids.flat), len(vocab))
    return Corpus(train, dev, vocab, names)


def encode_file(
    path: str | os.PathLike, vocab: Vocabulary, label_names: list[str], *, tokenizer: Tokenizer | None = None,
    max_tokens: int | None = None, text_column: str = "text", label_column: str = "label",
    cache_dir: str | os.PathLike | None = None, num_proc: int | None = None, progress: bool = False,
) -> EncodedSplit:
    """A labelled file (dev or test) encoded with an existing vocabulary and label names, through the cache."""
    with _progress_bars(progress):
        rows = _read_rows(path, text_column, label_column, _cache_root(cache_dir))
        numeric = all(is_int_label(name) for name in label_names)  # as load_files decides for the training file
        labels = _label_ids(rows, str(path), label_names, numeric)
        encoded = _encode(_tokenize(rows, tokenizer or Tokenizer(), max_tokens, num_proc), vocab, num_proc)
        return EncodedSplit(_token_ids(encoded, None), torch.from_numpy(labels))


# ---------------------------------------------------------------- reading files row by row


def _read_rows(path: str | os.PathLike, text_column: str, label_column: str, cache: Path) -> Any:
    """The file's rows with text as a memory-mapped Arrow `Dataset` (text, label as a string, line number).

    The Arrow file is written once per file version (path, size, modification time) and columns, one
    record batch of ROWS_PER_CHUNK rows at a time. Not `Dataset.from_generator`: that encodes and writes one
    example at a time, 20× slower than this on 200k rows (7.3 s against 0.4 s to parse them).
    """
    import datasets

    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}; check the path")
    if path.suffix.lower() not in FILE_FORMATS:
        raise DataError(f"{path} has extension {path.suffix!r}; use one of {', '.join(FILE_FORMATS)}")
    stat = path.stat()  # a changed file (size or modification time) gets a new cache entry
    key = _hash("rows", str(path.resolve()), stat.st_size, stat.st_mtime_ns, text_column, label_column)
    arrow = cache / key / "rows.arrow"
    if not arrow.is_file():
        _write_rows(path, arrow, text_column, label_column)
    return datasets.Dataset.from_file(str(arrow))


def _write_rows(path: Path, arrow: Path, text_column: str, label_column: str) -> None:
    """Stream the file's rows into an Arrow IPC stream file (the format `datasets` memory-maps)."""
    import pyarrow as pa

    schema = pa.schema([("text", pa.string()), ("label", pa.string()), ("line", pa.int64())])
    arrow.parent.mkdir(parents=True, exist_ok=True)
    partial = arrow.with_name(f"{arrow.name}.{os.getpid()}.partial")
    try:
        with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            rows = _rows(path, text_column, label_column)
            while chunk := list(itertools.islice(rows, ROWS_PER_CHUNK)):
                writer.write_batch(pa.record_batch(list(zip(*chunk)), schema=schema))
        os.replace(partial, arrow)
    finally:
        partial.unlink(missing_ok=True)


def _rows(path: Path, text_column: str, label_column: str) -> Iterator[tuple[str, str, int]]:
    """(text, label, line) of each row with non-blank text, one at a time; a row without a label is an error."""
    readers = {".tsv": tsv_rows, ".csv": csv_rows, ".jsonl": jsonl_rows}
    seen = kept = line = 0
    try:
        # csv needs newline=""; the TSV/JSONL readers of textcnn.data.files split on "\n" only
        with path.open(encoding="utf-8-sig", newline="" if path.suffix.lower() == ".csv" else "\n") as f:
            for line, text, label in readers[path.suffix.lower()](path, f, text_column, label_column):
                seen += 1
                if not text.strip():
                    continue
                if label is None or str(label).strip() == "":
                    raise DataError(f"{path} line {line} has no label; give every row a label")
                kept += 1
                yield text, str(label), line
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path} is not valid UTF-8 (byte {err.object[err.start]:#04x} after line {line}); "
            "convert it to UTF-8, e.g. iconv -f cp1252 -t utf-8"
        ) from err
    if not kept:
        raise DataError(f"{path} has no rows with text and a label; check the file and its columns")
    if kept < seen:
        log.info("dropped %d of %d rows with empty text from %s", seen - kept, seen, path)


# ---------------------------------------------------------------- labels and the dev split


def _train_labels(rows: Any, source: str) -> tuple[np.ndarray, list[str]]:
    """Label indices (N,) int64 and label names of a training file, named as `load_files` names them."""
    codes, distinct = _label_codes(rows)
    numeric = all(is_int_label(label) for _, _, label in distinct)
    names = train_label_names(distinct, numeric)
    return np.asarray(encode_labels(distinct, source, names, numeric, "training labels"))[codes], names


def _label_ids(rows: Any, source: str, names: list[str], numeric: bool) -> np.ndarray:
    """Each row's label as its index in `names`, (N,) int64; a label not there is an error naming its first line."""
    codes, distinct = _label_codes(rows)
    return np.asarray(encode_labels(distinct, source, names, numeric, "training labels"))[codes]


def _label_codes(rows: Any) -> tuple[np.ndarray, list[Row]]:
    """Each row's label as a code (N,) into the distinct labels, and (first line, "", label) per distinct label.

    The distinct labels are few, so `textcnn.data.files.encode_labels` checks them (with its messages) row-free.
    """
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(rows.data.column("label").combine_chunks())  # codes + distinct labels
    codes = encoded.indices.to_numpy().astype(np.int64)
    _, first = np.unique(codes, return_index=True)  # first row of each code, codes in dictionary order
    lines = rows.data.column("line")
    return codes, [(lines[int(i)].as_py(), "", label) for i, label in zip(first, encoded.dictionary.to_pylist())]


def _dev_rows(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask (N,) of the rows held out as dev: the rows `textcnn.data.splits.split_off_dev` holds out."""
    if not 0 < fraction < 1:
        raise DataError(f"dev fraction must be between 0 and 1, got {fraction}; e.g. 0.1 (Kim 2014 §3.2)")
    n, n_dev = len(labels), math.ceil(fraction * len(labels))  # how sklearn rounds a float test_size
    if not 1 <= n_dev < n:
        raise DataError(f"cannot split {n} examples into train and dev with fraction {fraction}; "
                        "use more data or another fraction")
    counts = np.bincount(labels)
    stratify = counts[counts > 0].min() >= 2 and (counts > 0).sum() <= min(n_dev, n - n_dev)
    _, held = train_test_split(np.arange(n), test_size=n_dev, random_state=seed,
                               stratify=labels if stratify else None)
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return mask


# ---------------------------------------------------------------- tokens, vocabulary, ids


def _tokenize(rows: Any, tokenizer: Tokenizer, max_tokens: int | None, num_proc: int | None) -> Any:
    """Tokens of every row (cut to max_tokens) and the uncut token count, as a cached Arrow `Dataset`."""
    import datasets
    import pyarrow.compute as pc

    if max_tokens is not None and max_tokens < 1:
        raise ConfigError(f"max_tokens must be at least 1 or None; got {max_tokens!r}")
    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "n_tokens": datasets.Value("int32")})
    tokens = rows.map(
        _tokenize_batch, batched=True, batch_size=ROWS_PER_CHUNK, writer_batch_size=ROWS_PER_CHUNK,
        input_columns=["text"], remove_columns=rows.column_names, features=features, num_proc=num_proc,
        fn_kwargs={"tokenizer": tokenizer, "max_tokens": max_tokens}, desc="tokenising",
        new_fingerprint=_hash(rows._fingerprint, "tokens", tokenizer.name, tokenizer.lowercase, tokenizer.version,
                              max_tokens),
    )
    if max_tokens is not None:
        too_long = pc.sum(pc.greater(tokens.data.column("n_tokens"), max_tokens)).as_py() or 0
        if too_long:
            warnings.warn(
                f"{too_long} text(s) have more than {max_tokens} tokens; only the first {max_tokens} "
                "are used (raise max_tokens / --max-tokens to keep more)", stacklevel=3,
            )
    return tokens


def _tokenize_batch(texts: list[str], tokenizer: Tokenizer, max_tokens: int | None) -> Any:
    """Tokens as a pyarrow table: returning Arrow skips datasets' per-value encoding (~35% of the step)."""
    import pyarrow as pa

    tokens = [tokenizer(text) for text in texts]
    return pa.table({"tokens": pa.array([t[:max_tokens] for t in tokens], pa.list_(pa.string())),
                     "n_tokens": pa.array([len(t) for t in tokens], pa.int32())})


def _count_tokens(tokens: Any, keep: np.ndarray | None) -> Counter:
    """How often each token occurs in the rows `keep` (a boolean mask; None = all), summed in Arrow per chunk."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def summed(parts: list[Any]) -> Any:
        total = pa.concat_tables(parts).group_by("word").aggregate([("n", "sum")])
        return pa.table({"word": total.column("word"), "n": total.column("n_sum")})

    parts, start = [], 0
    for chunk in tokens.data.column("tokens").chunks:
        kept = chunk if keep is None else chunk.filter(pa.array(keep[start:start + len(chunk)]))
        start += len(chunk)
        found = pc.value_counts(kept.flatten())  # struct array: values, counts
        parts.append(pa.table({"word": found.field("values"), "n": found.field("counts")}))
        if len(parts) == 64:  # bounds the tables held at once
            parts = [summed(parts)]
    total = summed(parts)
    return Counter(dict(zip(total.column("word").to_pylist(), total.column("n").to_pylist())))


def _vocabulary(counts: Counter, min_freq: int) -> Vocabulary:
    """The vocabulary `Vocabulary.build` makes from the same tokens: same words, same order."""
    kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
    return Vocabulary([PAD, UNK, *kept], {w: counts[w] for w in kept})


def _encode(tokens: Any, vocab: Vocabulary, num_proc: int | None) -> Any:
    """Token ids (list<int32>) of every row as a cached Arrow `Dataset`; unknown words get `<unk>`."""
    import datasets
    import pyarrow as pa

    words = "\n".join(vocab.itos)
    return tokens.with_format("arrow").map(
        _encode_batch, batched=True, batch_size=ROWS_PER_CHUNK, writer_batch_size=ROWS_PER_CHUNK,
        remove_columns=tokens.column_names, features=datasets.Features({"ids": datasets.List(datasets.Value("int32"))}),
        fn_kwargs={"itos": pa.array(vocab.itos, pa.string())}, num_proc=num_proc, desc="encoding",
        new_fingerprint=_hash(tokens._fingerprint, "ids", hashlib.sha256(words.encode()).hexdigest()),
    )


def _encode_batch(batch: Any, itos: Any) -> Any:
    """A pyarrow table of token lists → a table of id lists, in one vectorised lookup."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from ..base.tokens import UNK_ID

    tokens = batch.column("tokens").combine_chunks()  # ListArray, maybe a slice: rebase its offsets
    ids = pc.fill_null(pc.index_in(tokens.flatten(), value_set=itos), UNK_ID).cast(pa.int32())
    return pa.table({"ids": pa.ListArray.from_arrays(pc.subtract(tokens.offsets, tokens.offsets[0]), ids)})


def _token_ids(encoded: Any, rows: np.ndarray | None) -> TokenIds:
    """The ids of `rows` (a boolean mask; None = all) over memory-mapped .npy files, written on first use.

    mmap_mode="c" (copy-on-write): torch gets a writable array without a warning, and a stray write
    changes this process's copy of a page, never the cache.
    """
    folder = Path(encoded.cache_files[0]["filename"]).parent
    selection = "all" if rows is None else hashlib.sha256(np.packbits(rows).tobytes()).hexdigest()
    key = _hash(encoded._fingerprint, selection)
    ids_path, offsets_path = folder / f"ids-{key}.npy", folder / f"offsets-{key}.npy"
    if not offsets_path.is_file():  # written last, so its presence means both are complete
        _write_ids(encoded.data.column("ids"), rows, ids_path, offsets_path)
    flat = torch.from_numpy(np.load(ids_path, mmap_mode="c"))
    offsets = torch.from_numpy(np.load(offsets_path, mmap_mode="c"))
    return TokenIds(flat, offsets)


def _write_ids(column: Any, rows: np.ndarray | None, ids_path: Path, offsets_path: Path) -> None:
    """Copy an Arrow list<int32> column (the `rows` of it) into a flat int32 .npy and its int64 offsets, chunkwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = pc.list_value_length(column).to_numpy()
    lengths = lengths if rows is None else lengths[rows]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    partial = ids_path.with_name(f"{ids_path.name}.{os.getpid()}.partial")
    flat = np.lib.format.open_memmap(partial, mode="w+", dtype=np.int32, shape=(int(offsets[-1]),))
    at = start = 0
    for chunk in column.chunks:
        picked = chunk if rows is None else chunk.filter(pa.array(rows[start:start + len(chunk)]))
        start += len(chunk)
        values = picked.flatten().to_numpy()
        flat[at:at + len(values)] = values
        at += len(values)
    flat.flush()
    del flat
    os.replace(partial, ids_path)
    with open(partial, "wb") as f:
        np.save(f, offsets)
    os.replace(partial, offsets_path)


# ---------------------------------------------------------------- cache plumbing


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    import datasets

    return Path(cache_dir) if cache_dir is not None else Path(datasets.config.HF_DATASETS_CACHE) / "textcnn"


def _hash(*parts: Any) -> str:
    """A cache key for `parts` (and CACHE_VERSION)."""
    return hashlib.sha256(json.dumps([CACHE_VERSION, *parts]).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    """datasets' own progress bars, shown only when asked for (and restored afterwards)."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    (datasets.enable_progress_bars if enabled else datasets.disable_progress_bars)()
    try:
        yield
    finally:
        (datasets.enable_progress_bars if was_enabled else datasets.disable_progress_bars)()
