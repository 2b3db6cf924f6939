"""Tests for textcnn.data.files: the TextDataset container and reading your own TSV/CSV/JSONL files."""

import json
import logging
from pathlib import Path

import pytest

import textcnn.data.registry
from textcnn.base.errors import DataError
from textcnn.data.files import TextDataset, load_files, read_pairs


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


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
    with caplog.at_level(logging.INFO, logger="textcnn.data.files"):
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


def test_registry_datasets_are_the_files_container():
    splits = textcnn.data.registry.load_demo()
    assert all(isinstance(split, TextDataset) for split in splits.values())


def test_registry_reader_never_takes_a_row_for_a_header(tmp_path):
    path = write(tmp_path / "train.tsv", "2\ttext\n0\tlabel\n\n1\tfine\n")
    assert read_pairs(path) == [(1, "text", "2"), (2, "label", "0"), (4, "fine", "1")]
    with pytest.raises(DataError, match='column "label" not found'):
        load_files(path)  # load_files, by contrast, takes a first row naming a column for a header
    with pytest.raises(DataError, match=r"train\.tsv line 2 has no tab"):
        read_pairs(write(tmp_path / "train.tsv", "1\tgood\n0 bad\n"))


# ------------------------------------------------------------------ multi-label


def jsonl(path: Path, rows: list[dict]) -> Path:
    return write(path, "".join(json.dumps(row) + "\n" for row in rows))


def test_multi_label_dataset_sorts_checks_and_subsets():
    ds = TextDataset(["a", "b", "c"], [[2, 0], (), (1,)], ["x", "y", "z"], multi_label=True)
    assert ds.labels == [(0, 2), (), (1,)]  # sorted tuples; no label is allowed
    sub = ds.subset([2, 0])
    assert (sub.labels, sub.multi_label, sub.label_names) == ([(1,), (0, 2)], True, ["x", "y", "z"])
    with pytest.raises(DataError, match="label 3 of example 0 is outside 0..2"):
        TextDataset(["a"], [(0, 3)], ["x", "y", "z"], multi_label=True)
    with pytest.raises(DataError, match="example 1 has label 'y', not an integer"):
        TextDataset(["a", "b"], [(0,), (1, "y")], ["x", "y"], multi_label=True)
    with pytest.raises(DataError, match=r"example 0 lists label 1 twice \(\(1, 0, 1\)\)"):
        TextDataset(["a"], [[1, 0, 1]], ["x", "y"], multi_label=True)
    with pytest.raises(DataError, match="example 0 has label 1; a multi-label TextDataset takes a tuple"):
        TextDataset(["a"], [1], ["x", "y"], multi_label=True)
    with pytest.raises(DataError, match=r"label \(0, 1\) is a list; pass multi_label=True"):
        TextDataset(["a"], [(0, 1)], ["x", "y"])


def test_multi_label_jsonl_lists_of_names(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "goal in parliament", "label": ["sports", "politics"]},
                                             {"text": "weather", "label": []}, {"text": "vote", "label": ["politics"]}])
    dev = jsonl(tmp_path / "dev.jsonl", [{"text": "match", "label": ["sports"]}])
    out = load_files(train, dev, multi_label=True)
    assert out["train"].label_names == out["dev"].label_names == ["politics", "sports"]  # sorted strings
    assert (out["train"].labels, out["train"].multi_label) == ([(0, 1), (), (0,)], True)
    assert (out["dev"].texts, out["dev"].labels) == (["match"], [(1,)])


def test_multi_label_integer_labels_keep_numeric_order(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": [10, 2]}, {"text": "b", "label": ["1"]}])
    out = load_files(train, multi_label=True)["train"]
    assert (out.label_names, out.labels) == (["1", "2", "10"], [(1, 2), (0,)])


def test_multi_label_unknown_dev_label_names_label_file_and_line(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": ["joy", "anger"]}])
    test = jsonl(tmp_path / "test.jsonl", [{"text": "b", "label": ["joy"]}, {"text": "c", "label": ["joy", "awe"]}])
    expected = r'label "awe" in .*test\.jsonl line 2 is not one of .*train\.jsonl \(anger, joy\)'
    with pytest.raises(DataError, match=expected):
        load_files(train, test_file=test, multi_label=True)


def test_multi_label_jsonl_plain_label_is_an_error_naming_the_line(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": ["x"]}, {"text": "b", "label": "x"}])
    expected = r"""train\.jsonl line 2: label is 'x', not a list; .* write every label as a JSON list, e\.g\. \["x"\]"""
    with pytest.raises(DataError, match=expected):
        load_files(train, multi_label=True)


def test_multi_label_jsonl_strings_split_with_label_sep(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": "x|y"}, {"text": "b", "label": ["y"]}])
    assert load_files(train, multi_label=True, label_sep="|")["train"].labels == [(0, 1), (1,)]


def test_single_label_jsonl_list_says_pass_multi_label(tmp_path):
    train = jsonl(tmp_path / "train.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": ["x", "y"]}])
    with pytest.raises(DataError, match=r"train\.jsonl line 2: label is a list .*pass --multi-label") as info:
        load_files(train)
    assert "\n" not in str(info.value)


def test_multi_label_tsv_and_csv_split_on_label_sep(tmp_path):
    train = write(tmp_path / "train.tsv", "b | a\tfirst\n\tsecond\na||\tthird\n")
    out = load_files(train, multi_label=True, label_sep="|")["train"]
    assert (out.texts, out.label_names, out.labels) == (["first", "second", "third"], ["a", "b"], [(0, 1), (), (0,)])
    csv_train = write(tmp_path / "train.csv", 'text,label\n"good, fun",pos;fun\nmeh,\n')
    out = load_files(csv_train, multi_label=True, label_sep=";")["train"]
    assert (out.label_names, out.labels) == (["fun", "pos"], [(0, 1), ()])  # an empty cell is no label


def test_multi_label_tsv_needs_label_sep(tmp_path):
    train = write(tmp_path / "train.tsv", "a\tfirst\n")
    with pytest.raises(DataError, match="multi-label TSV/CSV files need --label-sep, e.g. --label-sep '|'"):
        load_files(train, multi_label=True)


def test_label_sep_needs_multi_label(tmp_path):
    train = write(tmp_path / "train.tsv", "a\tfirst\n")
    with pytest.raises(DataError, match="--label-sep needs --multi-label"):
        load_files(train, label_sep="|")


def test_label_sep_that_never_occurs_warns(tmp_path, caplog):
    train = write(tmp_path / "train.tsv", "a,b\tfirst\nc\tsecond\n")
    with caplog.at_level(logging.WARNING, logger="textcnn.data.files"):
        out = load_files(train, multi_label=True, label_sep="|")["train"]
    assert out.labels == [(0,), (1,)] and out.label_names == ["a,b", "c"]  # loaded as it reads
    assert "--label-sep '|' never occurs in the labels of" in caplog.text and "train.tsv" in caplog.text
    assert "every example has at most one label" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="textcnn.data.files"):
        load_files(train, multi_label=True, label_sep=",")
    assert "never occurs" not in caplog.text


def test_multi_label_repeated_label_and_unlabelled_training_file(tmp_path):
    train = write(tmp_path / "train.tsv", "a|b\tfirst\nb|b\tsecond\n")
    with pytest.raises(DataError, match=r'train\.tsv line 2 lists label "b" twice'):
        load_files(train, multi_label=True, label_sep="|")
    empty = jsonl(tmp_path / "empty.jsonl", [{"text": "a", "label": []}])
    with pytest.raises(DataError, match="has no labels: every example's label list is empty"):
        load_files(empty, multi_label=True)
