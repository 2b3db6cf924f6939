"""Tests for textcnn.data: loaders, error messages, splitting and batching. Nothing is downloaded."""

import json
import logging
import os
from collections import Counter
from pathlib import Path

import datasets
import pytest

from textcnn import data
from textcnn.data import (
    DATASETS,
    TextDataset,
    load_demo,
    load_files,
    load_named_dataset,
    split_off_dev,
)
from textcnn.errors import DataError


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


def test_text_dataset_subset_and_checks():
    ds = TextDataset(["a", "b", "c"], [0, 1, 0], ["x", "y"])
    sub = ds.subset([2, 1])
    assert (sub.texts, sub.labels, sub.label_names, len(sub)) == (["c", "b"], [0, 1], ["x", "y"], 2)
    with pytest.raises(DataError, match="label 2 is outside 0..1"):
        TextDataset(["a"], [2], ["x", "y"])
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        TextDataset(["a", "b"], [0], ["x"])


# ------------------------------------------------------------------ load_files


def test_tsv_without_header(tmp_path):
    train = write(tmp_path / "train.tsv", "1\tgood film\n0\tbad film\n1\tgreat\n")
    test = write(tmp_path / "test.tsv", "0\tawful\n1\tnice\n")
    out = load_files(train, test_file=test)
    assert set(out) == {"train", "test"}
    assert out["train"].texts == ["good film", "bad film", "great"]
    assert out["train"].labels == [1, 0, 1]
    assert out["train"].label_names == ["0", "1"]
    assert out["test"].labels == [0, 1]


def test_integer_labels_keep_numeric_order(tmp_path):
    train = write(tmp_path / "train.tsv", "10\tten\n2\ttwo\n1\tone\n")
    out = load_files(train)["train"]
    assert out.label_names == ["1", "2", "10"]  # numeric, not string, order
    assert out.labels == [2, 1, 0]


def test_tsv_with_header_and_custom_columns(tmp_path):
    train = write(tmp_path / "train.tsv", "id\tsentence\tpolarity\n1\tfine\tpos\n2\tpoor\tneg\n")
    out = load_files(train, text_column="sentence", label_column="polarity")["train"]
    assert out.texts == ["fine", "poor"]
    assert out.label_names == ["neg", "pos"]
    assert out.labels == [1, 0]


def test_csv_with_quotes_and_string_labels(tmp_path):
    train = write(tmp_path / "train.csv", 'text,label\n"good, really good",positive\nbad,negative\n')
    dev = write(tmp_path / "dev.csv", "label,text\nnegative,meh\n")
    out = load_files(train, dev)
    assert out["train"].texts == ["good, really good", "bad"]
    assert out["train"].label_names == ["negative", "positive"]
    assert out["train"].labels == [1, 0]
    assert (out["dev"].texts, out["dev"].labels) == (["meh"], [0])


def test_jsonl_mixed_int_and_string_integer_labels(tmp_path):
    lines = [{"review": "nice", "stars": 1}, {"review": "bad", "stars": "0"}, {"review": "ok", "stars": 1}]
    train = write(tmp_path / "train.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    out = load_files(train, text_column="review", label_column="stars")["train"]
    assert out.texts == ["nice", "bad", "ok"]
    assert (out.labels, out.label_names) == ([1, 0, 1], ["0", "1"])


def test_empty_text_rows_are_dropped_and_counted(tmp_path, caplog):
    train = write(tmp_path / "train.tsv", "1\tgood\n0\t   \n0\tbad\n1\t\n")
    with caplog.at_level(logging.INFO, logger="textcnn.data"):
        out = load_files(train)["train"]
    assert out.texts == ["good", "bad"]
    assert "dropped 2 of 4 rows with empty text" in caplog.text


def test_train_without_usable_rows(tmp_path):
    train = write(tmp_path / "train.tsv", "1\t \n")
    with pytest.raises(DataError, match="no rows with text"):
        load_files(train)


def test_unknown_dev_label_names_label_and_file(tmp_path):
    train = write(tmp_path / "train.tsv", "pos\tgood\nneg\tbad\n")
    dev = write(tmp_path / "dev.tsv", "pos\tfine\nneutral\tso-so\n")
    with pytest.raises(DataError, match=r'label "neutral" in .*dev\.tsv line 2.*train\.tsv \(neg, pos\)'):
        load_files(train, dev)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(DataError, match=r"file not found: .*nope\.tsv"):
        load_files(tmp_path / "nope.tsv")


def test_unknown_extension(tmp_path):
    train = write(tmp_path / "train.txt", "1\tgood\n")
    with pytest.raises(DataError, match=r"'\.txt'; use one of \.tsv, \.csv, \.jsonl"):
        load_files(train)


def test_missing_column_message_suggests_the_flag(tmp_path):
    train = write(tmp_path / "train.csv", "sentence,polarity\ngood,1\n")
    expected = r'column "label" not found in train\.csv \(columns: sentence, polarity\); '
    expected += "pass --label-column polarity"
    with pytest.raises(DataError, match=expected):
        load_files(train, text_column="sentence")


def test_tsv_header_missing_one_column(tmp_path):
    train = write(tmp_path / "train.tsv", "text\tsentiment\ngood\t1\n")
    with pytest.raises(DataError, match='column "label" not found.*pass --label-column sentiment'):
        load_files(train)


def test_non_utf8_file(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_bytes("1\tcaf\u00e9 au lait\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"train\.tsv is not valid UTF-8 \(byte 0xe9.*convert it to UTF-8"):
        load_files(train)


def test_malformed_jsonl_line_number(tmp_path):
    train = write(tmp_path / "train.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", "label": 0\n')
    with pytest.raises(DataError, match=r"train\.jsonl line 2 is not valid JSON"):
        load_files(train)


def test_tsv_line_without_tab_line_number(tmp_path):
    train = write(tmp_path / "train.tsv", "1\tgood\n0\tbad\n\n1 no tab here\n")
    with pytest.raises(DataError, match=r"train\.tsv line 4 has no tab"):
        load_files(train)


def test_missing_label_value(tmp_path):
    train = write(tmp_path / "train.csv", "text,label\ngood,1\nbad,\n")
    with pytest.raises(DataError, match=r"train\.csv line 3 has no label"):
        load_files(train)


# ------------------------------------------------------------------ named datasets


def test_registry_sst2_entry():
    spec = DATASETS["sst2"]
    assert spec.label_names == ("negative", "positive")
    assert spec.hub_id == "SetFit/sst2"
    assert spec.hub_split_map == {"train": "train", "dev": "validation", "test": "test"}
    assert (spec.tokenizer, spec.lowercase) == ("kim-sst", True)


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


@pytest.mark.skipif(
    not os.environ.get("TEXTCNN_DATA") or not Path(os.environ["TEXTCNN_DATA"], "sst2", "train.tsv").is_file(),
    reason="TEXTCNN_DATA does not hold sst2/",
)
def test_real_sst2_counts(monkeypatch, tmp_path):
    monkeypatch.setenv("TEXTCNN_DATA", str(Path(os.environ["TEXTCNN_DATA"]).resolve()))
    monkeypatch.chdir(tmp_path)
    out = load_named_dataset("sst2")
    assert {k: len(v) for k, v in out.items()} == {
        "train": 6920,
        "dev": 872,
        "test": 1821,
    }  # Kim 2014 Table 1


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


# ------------------------------------------------------------------ split_off_dev


def imbalanced(n_pos: int = 30, n_neg: int = 70) -> TextDataset:
    labels = [1] * n_pos + [0] * n_neg
    return TextDataset([f"s{i}" for i in range(len(labels))], labels, ["neg", "pos"])


def test_split_off_dev_sizes_and_stratification():
    full = imbalanced()
    train, dev = split_off_dev(full, 0.1, seed=0)
    assert (len(train), len(dev)) == (90, 10)
    assert Counter(dev.labels) == {0: 7, 1: 3}  # the 70/30 class ratio is kept
    assert sorted(train.texts + dev.texts) == sorted(full.texts)
    assert train.label_names == dev.label_names == ["neg", "pos"]


def test_split_off_dev_is_seeded():
    full = imbalanced()
    assert split_off_dev(full, 0.2, seed=1)[1].texts == split_off_dev(full, 0.2, seed=1)[1].texts
    assert split_off_dev(full, 0.2, seed=1)[1].texts != split_off_dev(full, 0.2, seed=2)[1].texts


def test_split_off_dev_tiny_class_falls_back():
    train, dev = split_off_dev(imbalanced(n_pos=1, n_neg=9), 0.3, seed=0)
    assert (len(train), len(dev)) == (7, 3)


def test_split_off_dev_bad_fraction():
    with pytest.raises(DataError, match="between 0 and 1, got 1.5"):
        split_off_dev(imbalanced(), 1.5, seed=0)


def test_unreachable_hub_fails_fast_with_a_connection_error(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(ConnectionError, match="cannot reach 127.0.0.1"):
        data._check_hub_reachable(timeout_s=1.0)


def test_hub_offline_mode_skips_the_reachability_check(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    data._check_hub_reachable(timeout_s=1.0)  # no error: datasets will use its cache
