"""The on-disk path (textcnn.data.corpus, TextCNNClassifier.fit_corpus, train --on-disk): same encoding as in memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.cli_helpers import fails, invoke
from textcnn.base.errors import ConfigError, DataError
from textcnn.data.batches import TokenBatches
from textcnn.data.corpus import encode_corpus, encode_file
from textcnn.data.files import load_files
from textcnn.data.splits import split_off_dev
from textcnn.data.tokenizer import Tokenizer, Vocabulary
from textcnn.estimators.text import TextCNNClassifier

TINY = ["--variant", "rand", "--n-filters", "4", "--embedding-dim", "8", "--filter-sizes", "1,2"]


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    """The default cache (<datasets cache>/textcnn) goes to tmp_path; nothing is written to the home folder."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf"))


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tsv(tmp_path, corpus) -> Path:
    texts, labels = corpus
    return _write(tmp_path / "train.tsv", ["label\ttext", *(f"{y}\t{x}" for x, y in zip(texts, labels))])


def _rows(split) -> list[list[int]]:
    o = split.ids.offsets
    return [split.ids.flat[o[i]:o[i + 1]].tolist() for i in range(len(split))]


def _in_memory(train, dev, tokenizer):
    """What `fit` builds from the same splits: vocabulary and the id lists of both splits."""
    vocab = Vocabulary.build([tokenizer(t) for t in train.texts])
    return vocab, [vocab.encode(tokenizer(t)) for t in train.texts], [vocab.encode(tokenizer(t)) for t in dev.texts]


@pytest.mark.parametrize("seed", [0, 3])
def test_held_out_dev_matches_in_memory_split_and_encoding(tsv, seed):
    tokenizer = Tokenizer("kim")
    encoded = encode_corpus(tsv, tokenizer=tokenizer, seed=seed)
    train, dev = split_off_dev(load_files(tsv)["train"], 0.1, seed)
    vocab, train_ids, dev_ids = _in_memory(train, dev, tokenizer)
    assert encoded.vocab.itos == vocab.itos and encoded.vocab.counts == vocab.counts
    assert _rows(encoded.train) == train_ids and _rows(encoded.dev) == dev_ids
    assert encoded.train.labels.tolist() == train.labels and encoded.dev.labels.tolist() == dev.labels
    assert encoded.label_names == train.label_names == ["neg", "pos"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".tsv"])
def test_every_format_reads_like_load_files(tmp_path, suffix):
    texts = ["Good film , really !", "bad one", "  ", "okay\u00e9 then", "so bad"]
    labels = [1, "01", 0, 2, " 0 "]  # integer labels: "01" is 1, as in load_files
    if suffix == ".csv":
        rows = ["text,label", *(f'"{x}",{y}' for x, y in zip(texts, labels))]
    elif suffix == ".jsonl":
        rows = [json.dumps({"text": x, "label": y}) for x, y in zip(texts, labels)]
    else:
        rows = [f"{y}\t{x}" for x, y in zip(texts, labels)]  # headerless label<TAB>text
    train = _write(tmp_path / f"train{suffix}", rows)
    dev = _write(tmp_path / f"dev{suffix}", rows[:1] * (suffix == ".csv") + rows[-2:])  # CSV: keep the header
    encoded = encode_corpus(train, dev, tokenizer=Tokenizer("unicode"))
    expected = load_files(train, dev)
    vocab, train_ids, dev_ids = _in_memory(expected["train"], expected["dev"], Tokenizer("unicode"))
    assert encoded.label_names == expected["train"].label_names == ["0", "1", "2"]
    assert encoded.train.labels.tolist() == expected["train"].labels  # the blank row is dropped in both
    assert encoded.dev.labels.tolist() == expected["dev"].labels
    assert encoded.vocab.itos == vocab.itos and _rows(encoded.train) == train_ids and _rows(encoded.dev) == dev_ids


def _mapped_file(address: int) -> str | None:
    """The file backing the memory mapping that holds `address` (None for anonymous memory)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) == 6 else None
    return None


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_flat_ids_are_int32_memory_mapped_from_the_cache(tsv, tmp_path):
    encoded = encode_corpus(tsv, cache_dir=tmp_path / "cache")
    for split in (encoded.train, encoded.dev):
        assert split.ids.flat.dtype == torch.int32 and split.ids.offsets.dtype == torch.int64
        for tensor in (split.ids.flat, split.ids.offsets):
            backing = _mapped_file(tensor.data_ptr())
            assert backing is not None and backing.endswith(".npy"), backing  # file pages, not anonymous memory
            assert backing.startswith(str(tmp_path / "cache"))


def test_bucketed_batches_cover_every_example_once_with_aligned_labels(tsv):
    split = encode_corpus(tsv).train
    batches = TokenBatches(split.ids, split.labels, 4, shuffle=True)
    rows, seen = _rows(split), []
    for batch in batches.epoch(torch.Generator().manual_seed(1)):
        ids, lengths = batch.inputs
        assert batch.labels.tolist() == split.labels[batch.index].tolist()
        for row, n, i in zip(ids.tolist(), lengths.tolist(), batch.index.tolist()):
            assert row[:n] == rows[i] and all(t == 0 for t in row[n:])
        seen += batch.index.tolist()
    assert sorted(seen) == list(range(len(split)))


def test_changed_file_is_read_again_and_max_tokens_cuts_with_a_warning(tmp_path):
    path = _write(tmp_path / "t.tsv", ["pos\ta b c d e f", "neg\tb c"])
    first = encode_corpus(path, path)
    assert _rows(first.train) == [[4, 2, 3, 5, 6, 7], [2, 3]]  # b, c are the most frequent
    _write(path, ["pos\tz z z", "neg\tb c"])
    with pytest.warns(UserWarning, match="1 text.* more than 2 tokens"):
        second = encode_corpus(path, path, max_tokens=2)
    assert second.vocab.itos[2:] == ["z", "b", "c"] and _rows(second.train) == [[2, 2], [3, 4]]


@pytest.mark.parametrize("name, rows, match", [
    ("a.csv", ["review,label", "fine,pos"], r'column "text" not found in a.csv \(columns: review, label\); '
                                            "pass --text-column review"),
    ("a.tsv", ["label\ttext", "pos\tfine", "\tno label here"], r"a.tsv line 3 has no label"),
    ("a.tsv", ["pos fine"], r"a.tsv line 1 has no tab"),
    ("a.jsonl", ['{"text": "fine", "label": "pos"}', "{oops"], r"a.jsonl line 2 is not valid JSON"),
    ("a.tsv", ["label\ttext", "pos\t   "], r"a.tsv has no rows with text and a label"),
    ("a.txt", ["pos\tfine"], r"a.txt has extension '.txt'; use one of .tsv, .csv, .jsonl"),
])
def test_bad_files_raise_one_line_data_errors(tmp_path, name, rows, match):
    with pytest.raises(DataError, match=match) as err:
        encode_corpus(_write(tmp_path / name, rows))
    assert "\n" not in str(err.value)


def test_bad_bytes_unknown_dev_labels_and_missing_files(tmp_path, tsv):
    latin1 = tmp_path / "latin1.tsv"
    latin1.write_bytes(b"pos\tfine\nneg\tcaf\xe9\n")
    with pytest.raises(DataError, match=r"latin1.tsv is not valid UTF-8 \(byte 0xe9 .*iconv"):
        encode_corpus(latin1)
    dev = _write(tmp_path / "dev.tsv", ["pos\tfine", "meh\tso so"])
    with pytest.raises(DataError, match=r'label "meh" in .*dev.tsv line 2 is not one of the training labels'):
        encode_corpus(tsv, dev)
    with pytest.raises(DataError, match="file not found: .*nope.tsv"):
        encode_file(tmp_path / "nope.tsv", Vocabulary(["<pad>", "<unk>"]), ["neg", "pos"])


@pytest.mark.filterwarnings("ignore:low coverage")
def test_fit_corpus_pretrained_variant_and_save_load(tsv, tmp_path, glove_path):
    clf = TextCNNClassifier(variant="static", vectors=glove_path, n_filters=4, filter_sizes=(1, 2), epochs=1)
    clf.fit_corpus(tsv)
    assert clf.train_examples_ == 18 and list(clf.classes_) == ["neg", "pos"]
    assert clf.coverage_.types_found > 0 and clf.module_.config.embedding_dim == 50  # the test vectors' size
    loaded = TextCNNClassifier.load(clf.save(tmp_path / "run"))
    texts = ["a wonderful film", "a dull film"]
    assert loaded.predict_proba(texts) == pytest.approx(clf.predict_proba(texts))
    data = load_files(tsv)["train"]
    assert clf.score_file(tsv) == pytest.approx(clf.score(data.texts, [data.label_names[i] for i in data.labels]))


def test_fit_corpus_without_vectors_needs_rand(tsv, monkeypatch):
    monkeypatch.delenv("TEXTCNN_VECTORS", raising=False)
    with pytest.raises(ConfigError, match="needs pretrained vectors .*--vectors.*or use variant 'rand'"):
        TextCNNClassifier(variant="non-static").fit_corpus(tsv)


def test_cli_on_disk_train_writes_a_loadable_model(tsv, tmp_path):
    run = tmp_path / "run"
    result = invoke(["-q", "train", "--train-file", str(tsv), "--test-file", str(tsv), "--on-disk", *TINY,
                     "--epochs", "1", "--out", str(run)])
    assert json.loads(result.stdout.splitlines()[-1]).keys() == {"best_dev_acc", "test_acc"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train_examples"] == 18 and len(metrics["history"]) == 1
    assert TextCNNClassifier.load(run).predict(["a wonderful film"])[0] in {"pos", "neg"}
    assert (tmp_path / "hf" / "textcnn").is_dir()  # the default cache


def test_cli_on_disk_errors_are_one_line(tsv, tmp_path):
    fails(["train", "--on-disk", "--dataset", "sst2", *TINY], "--on-disk needs --train-file")
    fails(["train", "--train-file", str(tsv), "--on-disk", "--cv", "3", *TINY], "drop --n-seeds and --cv")
    fails(["train", "--train-file", str(tmp_path / "missing.tsv"), "--on-disk", *TINY], "file not found")
    bad = _write(tmp_path / "bad.csv", ["review,label", "fine,pos"])
    fails(["train", "--train-file", str(bad), "--on-disk", *TINY], "pass --text-column review")


def test_fit_corpus_resumes_after_its_last_finished_epoch(tsv, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    params = {"variant": "rand", "n_filters": 4, "embedding_dim": 8, "filter_sizes": (1, 2)}
    first = TextCNNClassifier(epochs=1, **params).fit_corpus(tsv, checkpoint_dir=run)
    resumed = TextCNNClassifier(epochs=2, **params).fit_corpus(tsv, checkpoint_dir=run, resume=True)
    assert [r.epoch for r in resumed.fit_result_.history] == [1, 2]
    assert resumed.fit_result_.history[0].loss == first.fit_result_.history[0].loss


def test_fit_corpus_refuses_to_resume_on_another_file(tsv, tmp_path, corpus):
    run = tmp_path / "run"
    params = {"variant": "rand", "n_filters": 4, "embedding_dim": 8, "filter_sizes": (1, 2)}
    TextCNNClassifier(epochs=1, **params).fit_corpus(tsv, checkpoint_dir=run)
    texts, labels = corpus
    other = _write(tmp_path / "other.tsv", ["label\ttext", *(f"{y}\t{x} brand new" for x, y in zip(texts, labels))])
    with pytest.raises(DataError, match=f"vocabulary of {run} differs from that of {other}"):
        TextCNNClassifier(epochs=2, **params).fit_corpus(other, checkpoint_dir=run, resume=True)
