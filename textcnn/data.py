"""Datasets in, batches out: named benchmarks, local TSV/CSV/JSONL files, and length-bucketed batching.

Sections: containers and the registry · named datasets (local folder → $TEXTCNN_DATA → Hugging Face hub) ·
user files · the demo set · splitting · batching.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import torch
from sklearn.model_selection import train_test_split

from textcnn.errors import DataError

log = logging.getLogger(__name__)

DATA_ENV = "TEXTCNN_DATA"
FILE_FORMATS = (".tsv", ".csv", ".jsonl")
_DEMO_DIR = Path(__file__).resolve().parent.parent / "data" / "demo"

Row = tuple[int, str, Any]  # (line number, text, raw label) as read from a file or hub split


# ---------------------------------------------------------------- containers and the registry


@dataclass
class TextDataset:
    """Texts with integer labels indexing label_names."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(
                f"TextDataset got {len(self.texts)} texts but {len(self.labels)} labels; "
                "give one label per text"
            )
        bad = [y for y in self.labels if not 0 <= y < len(self.label_names)]
        if bad:
            raise DataError(
                f"label {bad[0]} is outside 0..{len(self.label_names) - 1} "
                f"(label_names: {', '.join(self.label_names)}); labels must index label_names"
            )

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> TextDataset:
        """The examples at `indices`, in that order, with the same label names."""
        return TextDataset(
            [self.texts[i] for i in indices], [self.labels[i] for i in indices], list(self.label_names)
        )


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark: its labels, local file stems and where it lives on the Hugging Face hub."""

    name: str
    label_names: tuple[str, ...]
    splits: tuple[str, ...]  # local file stems; the first one must exist for a folder to count
    tokenizer: str  # "kim-sst" (Kim's clean_str_sst) for SST, "kim" (clean_str) otherwise
    lowercase: bool  # Kim lowercases every dataset except TREC
    hub_id: str | None
    hub_text_column: str
    hub_split_map: dict[str, str]  # our split -> hub split
    hub_label_map: dict[int, str]  # hub integer label -> our label name
    hub_config: str | None = None  # hub config name, e.g. "sst2" for nyu-mll/glue
    hub_label_column: str = "label"  # "<hub_label_column>_text", if present, is checked against the map

    def __post_init__(self) -> None:
        unknown = sorted(set(self.hub_label_map.values()) - set(self.label_names))
        if unknown:
            raise DataError(
                f"DATASETS[{self.name!r}].hub_label_map names {', '.join(unknown)}, which are not in "
                f"label_names ({', '.join(self.label_names)}); fix the entry in textcnn/data.py"
            )


DATASETS: dict[str, DatasetSpec] = {
    "sst2": DatasetSpec(
        name="sst2",  # Kim 2014 Table 1: SST-2, train 6,920 / dev 872 / test 1,821
        label_names=("negative", "positive"),
        splits=("train", "dev", "test"),
        tokenizer="kim-sst",
        lowercase=True,
        hub_id="SetFit/sst2",  # same sentences and counts as Kim's files (shared/data/HUB.md)
        hub_text_column="text",
        hub_split_map={"train": "train", "dev": "validation", "test": "test"},
        hub_label_map={0: "negative", 1: "positive"},
    ),
}

_DEMO = DatasetSpec(  # not in DATASETS: the demo is only ever loaded on purpose, through load_demo()
    name="demo",
    label_names=("negative", "positive"),
    splits=("train", "dev", "test"),
    tokenizer="kim",
    lowercase=True,
    hub_id=None,
    hub_text_column="text",
    hub_split_map={},
    hub_label_map={},
)


# ---------------------------------------------------------------- named datasets


def load_named_dataset(name: str, data_dir: str | os.PathLike | None = None) -> dict[str, TextDataset]:
    """Load a registered benchmark by name, e.g. {"train": ..., "dev": ..., "test": ...} for "sst2".

    Looks in `data_dir` (a folder with `<split>.tsv`, or one holding `<name>/<split>.tsv`) if given,
    else in `./data/<name>/`, then in `$TEXTCNN_DATA/<name>/`, then on the Hugging Face hub.
    Never falls back to the demo set. Rows with empty text are dropped (the count is logged).
    """
    spec = _get_spec(name)
    folder = _find_local(spec, data_dir)
    if folder is not None:
        log.info("loading %s from %s", name, folder)
        return _load_local(spec, folder)
    return _load_from_hub(spec)


def _get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(
            f'unknown dataset "{name}"; known datasets: {", ".join(sorted(DATASETS))} '
            "(or pass your own files with --train-file)"
        )
    return DATASETS[name]


def _find_local(spec: DatasetSpec, data_dir: str | os.PathLike | None) -> Path | None:
    """The first local folder holding the dataset's first split file, or None."""
    if data_dir is not None:
        for folder in (Path(data_dir), Path(data_dir) / spec.name):
            if _holds_splits(spec, folder):
                return folder
        raise DataError(
            f'dataset "{spec.name}" not found in data_dir {data_dir} (no {spec.splits[0]}.tsv there or in '
            f"{Path(data_dir) / spec.name}); pass a folder holding {_split_files(spec)}"
        )
    candidates = [Path("data") / spec.name]
    if os.environ.get(DATA_ENV):
        candidates.append(Path(os.environ[DATA_ENV]) / spec.name)
    return next((folder for folder in candidates if _holds_splits(spec, folder)), None)


def _holds_splits(spec: DatasetSpec, folder: Path) -> bool:
    return (folder / f"{spec.splits[0]}.tsv").is_file()


def _split_files(spec: DatasetSpec) -> str:
    return ", ".join(f"{split}.tsv" for split in spec.splits)


def _load_local(spec: DatasetSpec, folder: Path) -> dict[str, TextDataset]:
    """Every `<split>.tsv` of the spec present in `folder` (label<TAB>text, integer labels)."""
    keys = [str(i) for i in range(len(spec.label_names))]
    out = {}
    for split in spec.splits:
        path = folder / f"{split}.tsv"
        if path.is_file():
            rows = _drop_empty(_read_rows(path, "text", "label"), str(path))
            labels = _encode_labels(rows, str(path), keys, numeric=True, known=f"{spec.name} labels")
            out[split] = TextDataset([text for _, text, _ in rows], labels, list(spec.label_names))
    return out


def _load_hub(spec: DatasetSpec) -> Any:
    """`datasets.load_dataset` for the spec: a DatasetDict keyed by hub split (tests replace this)."""
    _check_hub_reachable()
    import datasets  # imported here: it is slow to import and only the hub path needs it

    return datasets.load_dataset(spec.hub_id, spec.hub_config)


def _check_hub_reachable(timeout_s: float = 3.0) -> None:
    """Fail in seconds when offline, instead of after the hub client's ~30 s of noisy retries."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return  # offline mode: `datasets` reads its local cache
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout_s).close()
    except OSError as err:
        raise ConnectionError(f"cannot reach {endpoint.hostname} ({err})") from err


def _load_from_hub(spec: DatasetSpec) -> dict[str, TextDataset]:
    if spec.hub_id is None:
        raise DataError(_not_found_message(spec, "it has no Hugging Face hub id"))
    try:
        hub = _load_hub(spec)
    except Exception as err:  # offline, missing repo, script-only repo: all mean "not available"
        reason = f"could not be downloaded from the Hugging Face hub ({spec.hub_id}): {_short_reason(err)}"
        raise DataError(_not_found_message(spec, reason)) from err
    split_map = spec.hub_split_map
    out = {ours: _hub_split(spec, hub[theirs], theirs) for ours, theirs in split_map.items() if theirs in hub}
    if not out:
        raise DataError(
            f"hub dataset {spec.hub_id} has splits {', '.join(hub)} but hub_split_map of DATASETS"
            f"[{spec.name!r}] expects {', '.join(split_map.values())}; fix the entry in textcnn/data.py"
        )
    log.info("loaded %s from the Hugging Face hub (%s)", spec.name, spec.hub_id)
    return out


def _not_found_message(spec: DatasetSpec, reason: str) -> str:
    env = os.environ.get(DATA_ENV)
    env_state = f"= {Path(env) / spec.name}/" if env else "unset"
    return (
        f'dataset "{spec.name}" not found locally (looked in data/{spec.name}/ and '
        f"${DATA_ENV}/{spec.name}/ ({env_state})) and {reason}. Set {DATA_ENV} to a folder holding "
        f"{spec.name}/{_split_files(spec)}, or connect to the internet."
    )


def _short_reason(err: Exception) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())  # one line, whatever the exception held
    return text if len(text) <= 200 else text[:197] + "..."


def _hub_split(spec: DatasetSpec, split: Any, split_name: str) -> TextDataset:
    """One hub split as a TextDataset, labels mapped through spec.hub_label_map."""
    source = f"{spec.hub_id} split {split_name}"
    missing = [c for c in (spec.hub_text_column, spec.hub_label_column) if c not in split.column_names]
    if missing:
        raise DataError(
            f"hub dataset {source} has no column {missing[0]!r} (columns: {', '.join(split.column_names)}); "
            f"fix hub_text_column/hub_label_column of DATASETS[{spec.name!r}] in textcnn/data.py"
        )
    hub_labels = list(split[spec.hub_label_column])
    _check_hub_label_names(spec, split, hub_labels, source)
    texts = list(split[spec.hub_text_column])
    rows = [(i + 1, t or "", y) for i, (t, y) in enumerate(zip(texts, hub_labels, strict=True))]
    rows = _drop_empty(rows, source)
    index = {hub: spec.label_names.index(ours) for hub, ours in spec.hub_label_map.items()}
    return TextDataset([t for _, t, _ in rows], [index[y] for _, _, y in rows], list(spec.label_names))


def _check_hub_label_names(spec: DatasetSpec, split: Any, hub_labels: list, source: str) -> None:
    """Compare the map with the hub's own label names (ClassLabel names, `<label>_text` column)."""
    names = getattr(split.features.get(spec.hub_label_column), "names", None) or []
    pairs = {(i, names[i]) for i in spec.hub_label_map if 0 <= i < len(names)}
    text_column = f"{spec.hub_label_column}_text"
    if text_column in split.column_names:
        pairs |= set(zip(hub_labels, split[text_column], strict=True))
    pairs |= {(y, None) for y in set(hub_labels) - set(spec.hub_label_map)}
    for hub_label, hub_name in sorted(pairs, key=lambda p: (p[0], str(p[1]))):
        ours = spec.hub_label_map.get(hub_label)
        if ours is None or (hub_name is not None and str(hub_name).casefold() != ours.casefold()):
            raise DataError(
                f'hub dataset {source} has label {hub_label} ("{hub_name}") but DATASETS[{spec.name!r}]'
                f".hub_label_map maps it to {ours!r} ({spec.hub_label_map}); fix the map in textcnn/data.py"
            )


# ---------------------------------------------------------------- user files


def load_files(
    train_file: str | os.PathLike,
    dev_file: str | os.PathLike | None = None,
    test_file: str | os.PathLike | None = None,
    *,
    text_column: str = "text",
    label_column: str = "label",
) -> dict[str, TextDataset]:
    """Load your own .tsv/.csv/.jsonl files; label names come from the training file.

    TSV: `label<TAB>text` without header, or a header row; the first row is a header when one of its
    fields equals `text_column` or `label_column`. CSV: header required. JSONL: one object per line.
    Integer labels give label_names ["0", "1", ...] (sorted numerically); any other label gives the
    sorted label strings. Rows with empty text are dropped (the count is logged).
    """
    paths = {"train": train_file, "dev": dev_file, "test": test_file}
    rows = {
        split: _drop_empty(_read_rows(Path(path), text_column, label_column), str(path))
        for split, path in paths.items()
        if path is not None
    }
    numeric = all(_is_int(label) for _, _, label in rows["train"])
    names = _train_label_names(rows["train"], numeric)
    known = f"labels of the training file {Path(train_file).name}"
    out = {}
    for split, split_rows in rows.items():
        labels = _encode_labels(split_rows, str(paths[split]), names, numeric, known)
        out[split] = TextDataset([text for _, text, _ in split_rows], labels, list(names))
    return out


def _train_label_names(rows: list[Row], numeric: bool) -> list[str]:
    if numeric:
        return [str(i) for i in sorted({int(label) for _, _, label in rows})]
    return sorted({_label_key(label, numeric) for _, _, label in rows})


def _is_int(label: Any) -> bool:
    if isinstance(label, bool):
        return False
    if isinstance(label, int):
        return True
    return isinstance(label, str) and re.fullmatch(r"[+-]?\d+", label.strip()) is not None


def _label_key(label: Any, numeric: bool) -> str:
    """The label as the string stored in label_names ("01" and 1 both become "1" for integer labels)."""
    if numeric and _is_int(label):
        return str(int(label))
    return str(label).strip()


def _encode_labels(rows: list[Row], source: str, names: list[str], numeric: bool, known: str) -> list[int]:
    """Each row's label as its index in `names`; a label not there is an error naming it and the file."""
    if not rows:
        raise DataError(f"{source} has no rows with text and a label; check the file and its columns")
    index = {name: i for i, name in enumerate(names)}
    labels = []
    for line, _, label in rows:
        if label is None or str(label).strip() == "":
            raise DataError(f"{source} line {line} has no label; give every row a label")
        key = _label_key(label, numeric)
        if key not in index:
            raise DataError(
                f'label "{key}" in {source} line {line} is not one of the {known} ({", ".join(names)}); '
                "fix the label or add training examples of it"
            )
        labels.append(index[key])
    return labels


def _drop_empty(rows: list[Row], source: str) -> list[Row]:
    kept = [row for row in rows if row[1].strip()]
    if len(kept) < len(rows):
        log.info("dropped %d of %d rows with empty text from %s", len(rows) - len(kept), len(rows), source)
    return kept


def _read_rows(path: Path, text_column: str, label_column: str) -> list[Row]:
    """(line, text, raw label) for every non-blank row of a .tsv, .csv or .jsonl file."""
    readers = {".tsv": _read_tsv, ".csv": _read_csv, ".jsonl": _read_jsonl}
    if path.suffix.lower() not in readers:
        raise DataError(f"{path} has extension {path.suffix!r}; use one of {', '.join(FILE_FORMATS)}")
    return readers[path.suffix.lower()](path, _read_text(path), text_column, label_column)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"file not found: {path}; check the path")
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: tolerate the byte-order mark Excel writes
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path} is not valid UTF-8 (byte {err.object[err.start]:#04x} at offset {err.start}); "
            "convert it to UTF-8, e.g. iconv -f cp1252 -t utf-8"
        ) from err


def _read_tsv(path: Path, content: str, text_column: str, label_column: str) -> list[Row]:
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(content.split("\n"), start=1)]
    lines = [(n, line) for n, line in lines if line.strip()]
    if not lines:
        return []
    header = lines[0][1].split("\t")
    if text_column not in header and label_column not in header:
        return [_tsv_pair(path, n, line) for n, line in lines]
    text_at = _column_index(path, header, text_column, label_column, "--text-column")
    label_at = _column_index(path, header, label_column, text_column, "--label-column")
    rows = []
    for n, line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(
                f"{path} line {n} has {len(fields)} tab-separated fields but the header has {len(header)}; "
                "remove tabs from the text or fix the row"
            )
        rows.append((n, fields[text_at], fields[label_at]))
    return rows


def _tsv_pair(path: Path, n: int, line: str) -> Row:
    if "\t" not in line:
        raise DataError(
            f"{path} line {n} has no tab: {line[:60]!r}; write label<TAB>text, or add a header row "
            "naming the text and label columns"
        )
    label, text = line.split("\t", 1)
    return n, text, label


def _column_index(path: Path, columns: list[str], wanted: str, other: str, flag: str) -> int:
    if wanted in columns:
        return columns.index(wanted)
    spare = [c for c in columns if c != other]
    advice = f"pass {flag} {spare[0]}" if len(spare) == 1 else f"pass {flag} with one of: {', '.join(spare)}"
    raise DataError(f'column "{wanted}" not found in {path.name} (columns: {", ".join(columns)}); {advice}')


def _read_csv(path: Path, content: str, text_column: str, label_column: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(content, newline=""))
    columns = list(reader.fieldnames or [])
    _column_index(path, columns, text_column, label_column, "--text-column")
    _column_index(path, columns, label_column, text_column, "--label-column")
    return [(reader.line_num, row[text_column] or "", row[label_column]) for row in reader]


def _read_jsonl(path: Path, content: str, text_column: str, label_column: str) -> list[Row]:
    rows = []
    for n, line in enumerate(content.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path} line {n} is not valid JSON ({err.msg}); fix or remove the line") from err
        if not isinstance(record, dict):
            kind = type(record).__name__
            raise DataError(f"{path} line {n} is a JSON {kind}, not an object; write one object per line")
        _column_index(path, list(record), text_column, label_column, "--text-column")
        _column_index(path, list(record), label_column, text_column, "--label-column")
        rows.append((n, str(record[text_column] or ""), record[label_column]))
    return rows


# ---------------------------------------------------------------- the demo set


def load_demo() -> dict[str, TextDataset]:
    """The small movie-review demo set shipped in data/demo/ (labels: negative, positive)."""
    if not (_DEMO_DIR / "train.tsv").is_file():
        raise DataError(
            f"demo data not found at {_DEMO_DIR}; it ships with the source repository, not the installed "
            "package, so run from a clone or pass --dataset / --train-file"
        )
    return _load_local(_DEMO, _DEMO_DIR)


# ---------------------------------------------------------------- splitting


def split_off_dev(train: TextDataset, fraction: float, seed: int) -> tuple[TextDataset, TextDataset]:
    """Hold out `fraction` of train as a dev set, stratified by label; returns (train, dev).

    Kim 2014 §3.2 uses a random 10% of train as dev when a dataset has none. Falls back to an
    unstratified split when some class is too small to appear on both sides.
    """
    if not 0 < fraction < 1:
        raise DataError(f"dev fraction must be between 0 and 1, got {fraction}; e.g. 0.1 (Kim 2014 §3.2)")
    n_dev = math.ceil(fraction * len(train))  # how sklearn rounds a float test_size
    if not 1 <= n_dev < len(train):
        raise DataError(
            f"cannot split {len(train)} examples into train and dev with fraction {fraction}; "
            "use more data or another fraction"
        )
    counts = torch.bincount(torch.tensor(train.labels, dtype=torch.long))
    classes = int((counts > 0).sum())
    stratify = bool(counts[counts > 0].min() >= 2) and classes <= min(n_dev, len(train) - n_dev)
    if not stratify:
        log.info("split_off_dev: a class is too small to stratify; splitting without stratification")
    indices = list(range(len(train)))
    labels = train.labels if stratify else None
    kept, held = train_test_split(indices, test_size=n_dev, random_state=seed, stratify=labels)
    return train.subset(sorted(kept)), train.subset(sorted(held))


# ---------------------------------------------------------------- texts to predict


def read_texts(texts: Sequence[str], file: IO[str] | None = None, stdin: IO[str] | None = None) -> list[str]:
    """The texts to predict: the given strings, or one per non-blank line of `file` (or stdin for "-")."""
    if "-" in texts:
        if len(texts) > 1 or file is not None:
            raise DataError("give texts as arguments or with --file/-, not both")
        file, texts = stdin, []
    if file is not None and texts:
        raise DataError("give texts as arguments or with --file/-, not both")
    if file is not None:
        texts = [line.rstrip("\r\n") for line in file]
        texts = [t for t in texts if t.strip()]
        if not texts:
            raise DataError("the input has no non-blank lines; give one text per line")
        return texts
    if not texts:
        raise DataError('no text to predict; give texts as arguments, --file F, or - for stdin: predict "great film"')
    return list(texts)
