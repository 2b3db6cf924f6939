"""Texts and labels from files: the `TextDataset` container, your own TSV/CSV/JSONL files, texts to predict, and
the public low-level readers (`label<TAB>text` rows, UTF-8 checks, empty-row dropping, label encoding) that the
dataset registry (`textcnn.data.registry`) and the on-disk corpus (`textcnn.data.corpus`) reuse.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import numbers
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..base.errors import DataError

log = logging.getLogger(__name__)

FILE_FORMATS = (".tsv", ".csv", ".jsonl")

Row = tuple[int, str, Any]  # (line number, text, raw label) as read from a file or hub split
LabelSet = tuple[int, ...]  # a multi-label example's label indices, sorted; () = no label


@dataclass
class TextDataset:
    """Texts with labels indexing label_names: one int per text, or (multi_label) a sorted tuple of ints per text."""

    texts: list[str]
    labels: list[int] | list[LabelSet]
    label_names: list[str]
    multi_label: bool = False

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(
                f"TextDataset got {len(self.texts)} texts but {len(self.labels)} labels; "
                "give one label per text"
            )
        if self.multi_label:
            self.labels = [self._label_set(i, ys) for i, ys in enumerate(self.labels)]
            return
        lists = [y for y in self.labels if isinstance(y, (list, tuple))]
        if lists:
            raise DataError(f"label {lists[0]!r} is a list; pass multi_label=True for several labels per text")
        bad = [y for y in self.labels if not 0 <= y < len(self.label_names)]
        if bad:
            raise DataError(
                f"label {bad[0]} is outside 0..{len(self.label_names) - 1} "
                f"(label_names: {', '.join(self.label_names)}); labels must index label_names"
            )

    def _label_set(self, i: int, ys: Any) -> LabelSet:
        """Example `i`'s labels checked (ints indexing label_names, each once) and sorted."""
        if isinstance(ys, (str, bytes)) or not isinstance(ys, Iterable):
            raise DataError(f"example {i} has label {ys!r}; a multi-label TextDataset takes a tuple of "
                            "label indices per text, e.g. (0, 2), or () for none")
        ys = tuple(ys)
        for y in ys:
            if isinstance(y, bool) or not isinstance(y, numbers.Integral):
                raise DataError(f"example {i} has label {y!r}, not an integer; labels must index label_names")
            if not 0 <= y < len(self.label_names):
                raise DataError(
                    f"label {y} of example {i} is outside 0..{len(self.label_names) - 1} "
                    f"(label_names: {', '.join(self.label_names)}); labels must index label_names"
                )
        if len(set(ys)) < len(ys):
            twice = next(y for y in ys if ys.count(y) > 1)
            raise DataError(f"example {i} lists label {twice} twice ({ys}); give each label once")
        return tuple(sorted(int(y) for y in ys))

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> TextDataset:
        """The examples at `indices`, in that order, with the same label names."""
        return TextDataset(
            [self.texts[i] for i in indices], [self.labels[i] for i in indices], list(self.label_names),
            self.multi_label,
        )


# ---------------------------------------------------------------- your own files


def load_files(
    train_file: str | os.PathLike,
    dev_file: str | os.PathLike | None = None,
    test_file: str | os.PathLike | None = None,
    *,
    text_column: str = "text",
    label_column: str = "label",
    multi_label: bool = False,
    label_sep: str | None = None,
) -> dict[str, TextDataset]:
    """Load your own .tsv/.csv/.jsonl files; label names come from the training file.

    TSV: `label<TAB>text` without header, or a header row; the first row is a header when one of its
    fields equals `text_column` or `label_column`. CSV: header required. JSONL: one object per line.
    Integer labels give label_names ["0", "1", ...] (sorted numerically); any other label gives the
    sorted label strings. Rows with empty text are dropped (the count is logged).

    `multi_label`: each example has zero or more labels: a JSON list in JSONL (`[]` = none), or a
    TSV/CSV cell split on `label_sep` (an empty cell = none). With `label_sep`, JSONL string labels
    are split on it too.
    """
    paths = {"train": train_file, "dev": dev_file, "test": test_file}
    _check_label_options(paths, multi_label, label_sep)
    rows = {
        split: drop_empty(_read_rows(Path(path), text_column, label_column), str(path))
        for split, path in paths.items()
        if path is not None
    }
    if multi_label:
        return _multi_label_splits(rows, paths, label_sep)
    for split, split_rows in rows.items():
        _reject_label_lists(split_rows, str(paths[split]))
    numeric = all(is_int_label(label) for _, _, label in rows["train"])
    names = train_label_names(rows["train"], numeric)
    known = f"labels of the training file {Path(train_file).name}"
    out = {}
    for split, split_rows in rows.items():
        labels = encode_labels(split_rows, str(paths[split]), names, numeric, known)
        out[split] = TextDataset([text for _, text, _ in split_rows], labels, list(names))
    return out


def train_label_names(rows: list[Row], numeric: bool) -> list[str]:
    """The class names of a training file, in class-id order: sorted integers, or sorted strings."""
    if numeric:
        return [str(i) for i in sorted({int(label) for _, _, label in rows})]
    return sorted({_label_key(label, numeric) for _, _, label in rows})


def is_int_label(label: Any) -> bool:
    """Whether a raw label reads as an integer (then labels are class ids, not names)."""
    if isinstance(label, bool):
        return False
    if isinstance(label, int):
        return True
    return isinstance(label, str) and re.fullmatch(r"[+-]?\d+", label.strip()) is not None


def _label_key(label: Any, numeric: bool) -> str:
    """The label as the string stored in label_names ("01" and 1 both become "1" for integer labels)."""
    if numeric and is_int_label(label):
        return str(int(label))
    return str(label).strip()


# ---------------------------------------------------------------- multi-label files


def _check_label_options(paths: dict[str, Any], multi_label: bool, label_sep: str | None) -> None:
    if label_sep is not None and not multi_label:
        raise DataError(f"--label-sep needs --multi-label (got --label-sep {label_sep!r} alone); pass both")
    if label_sep == "":
        raise DataError("--label-sep is empty; give the character between labels, e.g. --label-sep '|'")
    tables = [Path(p).name for p in paths.values() if p is not None and Path(p).suffix.lower() in (".tsv", ".csv")]
    if multi_label and label_sep is None and tables:
        raise DataError(
            f"multi-label TSV/CSV files need --label-sep, e.g. --label-sep '|' ({tables[0]} has one label cell per row)"
        )


def _reject_label_lists(rows: list[Row], source: str) -> None:
    """Single-label mode: a JSON list label is an error (it would otherwise become one odd label)."""
    for line, _, label in rows:
        if isinstance(label, list):
            raise DataError(
                f"{source} line {line}: label is a list ({json.dumps(label)[:60]}); "
                "for several labels per example pass --multi-label"
            )


def _multi_label_splits(
    rows: dict[str, list[Row]], paths: dict[str, Any], label_sep: str | None
) -> dict[str, TextDataset]:
    """load_files with several labels per row: names from the training file, sets encoded per split."""
    sets = {
        split: [(line, text, _label_strings(label, str(paths[split]), line, label_sep)) for line, text, label in rs]
        for split, rs in rows.items()
    }
    if label_sep is not None:
        _warn_if_sep_unused(rows["train"], sets["train"], label_sep, str(paths["train"]))
    flat = [(line, text, y) for line, text, ys in sets["train"] for y in ys]
    numeric = all(is_int_label(y) for _, _, y in flat)
    names = train_label_names(flat, numeric)
    if not names:
        raise DataError(f"{paths['train']} has no labels: every example's label list is empty; label some examples")
    known = f"labels of the training file {Path(paths['train']).name}"
    out = {}
    for split, split_rows in sets.items():
        labels = _encode_label_sets(split_rows, str(paths[split]), names, numeric, known)
        out[split] = TextDataset([text for _, text, _ in split_rows], labels, list(names), multi_label=True)
    return out


def _label_strings(label: Any, source: str, line: int, label_sep: str | None) -> list[Any]:
    """One multi-label row's raw labels: a JSON list as it is, or a cell split on `label_sep`."""
    if isinstance(label, list):
        bad = [y for y in label if isinstance(y, bool) or not isinstance(y, (str, int)) or str(y).strip() == ""]
        if bad:
            raise DataError(f"{source} line {line}: label list {json.dumps(label)[:60]} holds {json.dumps(bad[0])}; "
                            "write labels as non-empty strings or integers")
        return label
    if label is None:
        raise DataError(f"{source} line {line} has no label; write [] for an example without labels")
    if label_sep is None:  # only JSONL gets here: TSV/CSV without a separator were refused up front
        raise DataError(
            f"{source} line {line}: label is {label!r}, not a list; in a multi-label JSONL file write every "
            f"label as a JSON list, e.g. [{json.dumps(label)}]"
        )
    return [part.strip() for part in str(label).split(label_sep) if part.strip()]


def _warn_if_sep_unused(raw: list[Row], sets: list[Row], label_sep: str, source: str) -> None:
    """A separator that splits nothing is likely the wrong one: say so, but load the file as it reads."""
    split_any = any(isinstance(label, str) and label_sep in label for _, _, label in raw)
    if not split_any and all(len(ys) <= 1 for _, _, ys in sets):
        log.warning("--label-sep %r never occurs in the labels of %s: every example has at most one label",
                    label_sep, source)


def _encode_label_sets(rows: list[Row], source: str, names: list[str], numeric: bool, known: str) -> list[LabelSet]:
    """Each row's labels as sorted indices into `names`; an unknown or repeated label names the file and line."""
    if not rows:
        raise DataError(f"{source} has no rows with text; check the file and its columns")
    index = {name: i for i, name in enumerate(names)}
    out = []
    for line, _, ys in rows:
        keys = [_label_key(y, numeric) for y in ys]
        twice = next((key for key in keys if keys.count(key) > 1), None)
        if twice is not None:
            raise DataError(f'{source} line {line} lists label "{twice}" twice; give each label once')
        out.append(tuple(sorted(_label_index(key, index, source, line, known) for key in keys)))
    return out


# ---------------------------------------------------------------- shared with the dataset registry


def encode_labels(rows: list[Row], source: str, names: list[str], numeric: bool, known: str) -> list[int]:
    """Each row's label as its index in `names`; a label not there is an error naming it and the file."""
    if not rows:
        raise DataError(f"{source} has no rows with text and a label; check the file and its columns")
    index = {name: i for i, name in enumerate(names)}
    labels = []
    for line, _, label in rows:
        if label is None or str(label).strip() == "":
            raise DataError(f"{source} line {line} has no label; give every row a label")
        labels.append(_label_index(_label_key(label, numeric), index, source, line, known))
    return labels


def _label_index(key: str, index: dict[str, int], source: str, line: int, known: str) -> int:
    if key not in index:
        raise DataError(
            f'label "{key}" in {source} line {line} is not one of the {known} ({", ".join(index)}); '
            "fix the label or add training examples of it"
        )
    return index[key]


def drop_empty(rows: list[Row], source: str) -> list[Row]:
    """The rows whose text is not blank; how many were dropped is logged (CR has 4, MPQA 3)."""
    kept = [row for row in rows if row[1].strip()]
    if len(kept) < len(rows):
        log.info("dropped %d of %d rows with empty text from %s", len(rows) - len(kept), len(rows), source)
    return kept


def read_pairs(path: Path) -> list[Row]:
    """Every non-blank row of a headerless `label<TAB>text` file (the registry's format; never a header)."""
    return [_tsv_pair(path, n, line) for n, line in _nonblank_lines(_read_text(path))]


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


# ---------------------------------------------------------------- readers by format


def _read_rows(path: Path, text_column: str, label_column: str) -> list[Row]:
    """(line, text, raw label) for every non-blank row of a .tsv, .csv or .jsonl file."""
    readers = {".tsv": _read_tsv, ".csv": _read_csv, ".jsonl": _read_jsonl}
    if path.suffix.lower() not in readers:
        raise DataError(f"{path} has extension {path.suffix!r}; use one of {', '.join(FILE_FORMATS)}")
    return readers[path.suffix.lower()](path, _read_text(path), text_column, label_column)


def _nonblank_lines(content: str) -> list[tuple[int, str]]:
    """(line number, line) for each line with something besides whitespace; split on \\n only."""
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(content.split("\n"), start=1)]
    return [(n, line) for n, line in lines if line.strip()]


def _read_tsv(path: Path, content: str, text_column: str, label_column: str) -> list[Row]:
    return list(tsv_rows(path, io.StringIO(content, newline="\n"), text_column, label_column))


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
    return list(csv_rows(path, io.StringIO(content, newline=""), text_column, label_column))


def _read_jsonl(path: Path, content: str, text_column: str, label_column: str) -> list[Row]:
    return list(jsonl_rows(path, io.StringIO(content, newline="\n"), text_column, label_column))


# streaming readers: (line, text, raw label) one row at a time from a text stream (also used by textcnn.data.corpus)


def tsv_rows(path: Path, f: IO[str], text_column: str, label_column: str) -> Iterator[Row]:
    """`label<TAB>text` lines, or a header row naming the columns (`_read_tsv`'s rule)."""
    lines = ((n, raw.rstrip("\n").rstrip("\r")) for n, raw in enumerate(f, start=1))
    lines = ((n, line) for n, line in lines if line.strip())
    first = next(lines, None)
    if first is None:
        return
    header = first[1].split("\t")
    if text_column not in header and label_column not in header:
        yield _tsv_pair(path, *first)
        yield from (_tsv_pair(path, n, line) for n, line in lines)
        return
    text_at = _column_index(path, header, text_column, label_column, "--text-column")
    label_at = _column_index(path, header, label_column, text_column, "--label-column")
    for n, line in lines:
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(
                f"{path} line {n} has {len(fields)} tab-separated fields but the header has {len(header)}; "
                "remove tabs from the text or fix the row"
            )
        yield n, fields[text_at], fields[label_at]


def csv_rows(path: Path, f: IO[str], text_column: str, label_column: str) -> Iterator[Row]:
    """Rows of a CSV stream with a header naming the text and label columns."""
    reader = csv.DictReader(f)
    columns = list(reader.fieldnames or [])
    _column_index(path, columns, text_column, label_column, "--text-column")
    _column_index(path, columns, label_column, text_column, "--label-column")
    for row in reader:
        if None in row or None in row.values():  # DictReader's markers for extra and for missing fields
            found = len(columns) + len(row.get(None, ())) - sum(v is None for v in row.values())
            raise DataError(
                f"{path} line {reader.line_num} has {found} comma-separated fields but the header has "
                f"{len(columns)}; quote text that contains commas (\"like, this\") or fix the row"
            )
        yield reader.line_num, row[text_column] or "", row[label_column]


def jsonl_rows(path: Path, f: IO[str], text_column: str, label_column: str) -> Iterator[Row]:
    """Rows of a JSON-lines stream, one object per non-blank line."""
    for n, line in enumerate(f, start=1):
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
        yield n, str(record[text_column] or ""), record[label_column]


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
