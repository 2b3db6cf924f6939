"""ONNX export: onnxruntime gives PyTorch's labels and probabilities (within 1e-5) for every text variant, a
multi-label model, a 2-member ensemble with an extra vector channel, and the digits model; the masked
max-over-time and the empty-input rule survive; the folder holds the tokenizer, vocabulary, labels and contract;
the CLI refuses to overwrite."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from gensim.test.utils import datapath

from tests.cli_helpers import fails, invoke
from tests.conftest import NEGATIVE, POSITIVE
from textcnn.base.errors import CheckpointError, DataError
from textcnn.data import tokenizer as tokenizer_module
from textcnn.data.tokenizer import Tokenizer
from textcnn.estimators.predictor import TextPredictor
from textcnn.estimators.text import TextCNNClassifier
from textcnn.export.contract import EXPORT_FILES, THRESHOLDS_FILE, tokenizer_description
from textcnn.export.runtime import OnnxImageModel, OnnxTextModel
from textcnn.export.to_onnx import TextProbabilities, export_run

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TEXT_KINDS = ["rand", "static", "non-static", "multichannel", "multi-label", "ensemble"]
TOLERANCE = 1e-5
EMPTY_UNDER_KIM = ["🙂", "— …", "日本語のテキスト", "éàü", "🎬🍿 ☺"]  # Kim's clean_str keeps only ASCII
TEXT_FILES = {"model.onnx", "contract.json", "tokenizer.json", "vocab.json", "labels.json", "README.md"}


def _train(kind: str, run_dir) -> None:
    texts = POSITIVE + NEGATIVE
    labels: list = ["pos"] * len(POSITIVE) + ["neg"] * len(NEGATIVE)
    extra = {}
    if kind == "multi-label":
        labels = [[y, "film"] if "film" in text else [y] for text, y in zip(texts, labels)]
        extra = {"multi_label": True, "threshold": 0.4}
    if kind == "ensemble":  # two seeds averaged, each with a second channel of task-trained fastText vectors
        extra = {"ensemble": 2, "extra_vectors": ("fasttext:8",)}
    variant = "non-static" if kind in ("multi-label", "ensemble") else kind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # low coverage of gensim's 40-word test vectors
        TextCNNClassifier(variant=variant, vectors=datapath("test_glove.txt"), n_filters=4, filter_sizes=(1, 2, 3),
                          epochs=1, tokenizer="kim", device="cpu", **extra).fit(texts, labels).save(run_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """kind -> (run directory, export folder), each trained and exported once per module."""
    root, cache = tmp_path_factory.mktemp("onnx"), {}

    def get(kind: str):
        if kind not in cache:
            _train(kind, root / kind)
            cache[kind] = root / kind, export_run(root / kind, root / f"{kind}-onnx")
        return cache[kind]

    return get


@pytest.fixture(scope="module", params=TEXT_KINDS)
def text_pair(request, runs) -> tuple[TextPredictor, OnnxTextModel, str]:
    run_dir, out = runs(request.param)
    return TextPredictor.load(run_dir, device="cpu"), OnnxTextModel.load(out, threads=1), request.param


def _parity_texts(predictor: TextPredictor) -> list[str]:
    """200+ texts: the corpus, every vocabulary word alone, texts without tokens, and word salads of 1-200 words
    (with unknown words)."""
    rng = np.random.default_rng(0)
    words = predictor.vocab.itos[2:]
    salad_words = [*words, "zzzunknown", "qwxy"]
    texts = POSITIVE + NEGATIVE + list(words) + EMPTY_UNDER_KIM
    return texts + [" ".join(rng.choice(salad_words, n)) for n in rng.integers(1, 201, 150)]


def _quietly(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no-token and too-long texts warn on both sides
        return fn(*args)


def test_onnxruntime_gives_pytorchs_labels_and_probabilities(text_pair):
    predictor, exported, _ = text_pair
    texts = _parity_texts(predictor)
    assert len(texts) >= 200
    n_tokens = [len(predictor.tokenize(t)) for t in texts]
    assert n_tokens.count(0) == len(EMPTY_UNDER_KIM) and n_tokens.count(1) >= 30 and max(n_tokens) > 190
    expected, got = _quietly(predictor.predict_proba, texts), _quietly(exported.predict_proba, texts)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= TOLERANCE
    np.testing.assert_array_equal(_quietly(exported.predict, texts), _quietly(predictor.predict, texts))


def test_texts_longer_than_max_tokens_are_cut_as_pytorch_cuts_them(text_pair):
    predictor, exported, _ = text_pair
    texts = [" ".join(["wonderful", "boring"] * predictor.max_tokens), "dull"]  # 2 * max_tokens tokens
    with pytest.warns(UserWarning, match=f"only the first {predictor.max_tokens}"):
        got = exported.predict_proba(texts)
    assert np.abs(got - _quietly(predictor.predict_proba, texts)).max() <= TOLERANCE


def test_one_batch_mixing_lengths_0_to_200_matches_pytorch_on_the_same_padded_batch(text_pair):
    predictor, exported, _ = text_pair
    rng = np.random.default_rng(1)
    texts = EMPTY_UNDER_KIM[:1] + [" ".join(rng.choice(predictor.vocab.itos[2:], n)) for n in range(1, 201)]
    ids, lengths = _quietly(exported.encode, texts)  # one batch (201, 200), right-padded
    assert lengths.tolist() == list(range(201)) and ids.shape == (201, 200)
    got = exported.run(ids, lengths)
    wrapper = TextProbabilities(predictor.module, predictor.multi_label).eval()
    with torch.inference_mode():
        same_batch = wrapper(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
    assert np.abs(got - same_batch).max() <= TOLERANCE
    assert np.abs(got - _quietly(predictor.predict_proba, texts)).max() <= TOLERANCE


def test_masked_pooling_and_the_empty_input_rule_survive_export(text_pair):
    predictor, exported, _ = text_pair
    ids = np.array([[5, 6, 7, 0]], dtype=np.int64)
    lengths = np.array([3], dtype=np.int64)
    padded = np.concatenate([ids, np.zeros((1, 50), dtype=np.int64)], axis=1)
    np.testing.assert_allclose(exported.run(padded, lengths), exported.run(ids, lengths), atol=1e-7)
    # an empty row pools to zeros: its probabilities are those of the head applied to a zero feature vector (an
    # ensemble's: the mean over its members of theirs)
    empty = exported.run(np.zeros((1, 1), dtype=np.int64), np.zeros(1, dtype=np.int64))
    members = getattr(predictor.module, "members", [predictor.module])
    with torch.inference_mode():
        logits = [member.head(torch.zeros(1, member.features.out_features)) for member in members]
    zero_features = torch.stack([torch.sigmoid(x) if predictor.multi_label else torch.softmax(x, dim=1)
                                 for x in logits]).mean(dim=0)
    np.testing.assert_allclose(empty, zero_features.numpy(), atol=TOLERANCE)


def test_the_folder_holds_contract_tokenizer_vocabulary_labels_and_thresholds(text_pair, runs):
    predictor, exported, kind = text_pair
    run_dir, out = runs(kind)
    names = {p.name for p in out.iterdir()}
    assert names == TEXT_FILES | ({THRESHOLDS_FILE} if predictor.multi_label else set())
    assert (out / "vocab.json").read_text() == (run_dir / "vocab.json").read_text()
    assert json.loads((out / "labels.json").read_text()) == predictor.class_names
    contract = json.loads((out / "contract.json").read_text())
    assert contract["pad_id"] == 0 and contract["unk_id"] == 1 and contract["multi_label"] == predictor.multi_label
    assert "dynamo=False" in contract["exporter"]
    tokenizer = json.loads((out / "tokenizer.json").read_text())
    assert (tokenizer["name"], tokenizer["lowercase"], tokenizer["version"], tokenizer["max_tokens"]) == (
        "kim", True, 2, predictor.max_tokens)
    assert tokenizer["call"] == "clean_str(text, lowercase=True).split()"
    if predictor.multi_label:
        np.testing.assert_allclose(json.loads((out / THRESHOLDS_FILE).read_text()), predictor.label_thresholds)
        np.testing.assert_allclose(exported.thresholds, [0.4, 0.4, 0.4])
    readme = (out / "README.md").read_text()
    assert "`ids`: int64 (batch, length)" in readme and "clean_str" in readme


def test_the_graph_declares_the_contracts_inputs_outputs_and_dynamic_axes(runs):
    _, out = runs("rand")
    graph = onnx.load(str(out / "model.onnx")).graph
    contract = json.loads((out / "contract.json").read_text())

    def spec(value):
        dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
        return onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name, dims

    assert {v.name: spec(v) for v in graph.input} == {
        name: (s["dtype"], s["shape"]) for name, s in contract["inputs"].items()}
    assert {v.name: spec(v) for v in graph.output} == {"probabilities": ("float32", ["batch", 2])}


@pytest.mark.parametrize(("name", "version"), [(n, v) for v, schemes in tokenizer_module._SCHEMES.items()
                                               for n in schemes])
def test_the_described_tokenizer_call_tokenises_as_the_model(name, version):
    if name == "jieba":
        pytest.importorskip("jieba")
    description = tokenizer_description(name, False, version, 10)
    for text in ["Don't STOP, it's (great)!", "这部电影非常好看 🇯🇵 👍🏽", "ภาษาไทย हिन्दी"]:
        tokens = eval(description["call"], vars(tokenizer_module), {"text": text})  # noqa: S307 (our own string)
        assert tokens == Tokenizer(name, False, version)(text)


def test_the_runtime_runs_without_torch(runs):
    _, out = runs("rand")
    code = ("import sys; from textcnn.export.runtime import OnnxTextModel; "
            f"p = OnnxTextModel.load({str(out)!r}).predict_proba(['a wonderful film', 'dull']); "
            "assert p.shape == (2, 2) and 'torch' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)


def test_runtime_input_errors(runs):
    _, out = runs("rand")
    model = OnnxTextModel.load(out)
    with pytest.raises(DataError, match="single string"):
        model.predict_proba("a film")
    with pytest.raises(DataError, match="whitespace only"):
        model.predict_proba(["  "])
    with pytest.raises(CheckpointError, match="image model expected|holds a text model"):
        OnnxImageModel.load(out)


# ---- the CLI ----
def test_cli_writes_the_folder_refuses_to_overwrite_and_force_replaces_an_earlier_export(runs, tmp_path):
    run_dir, _ = runs("rand")
    multi_dir, _ = runs("multi-label")
    out = tmp_path / "exported"
    result = invoke(["-q", "export", "--model", str(multi_dir), "--format", "onnx", "--out", str(out)])
    assert result.stdout.strip() == f"exported {out}"
    assert (out / THRESHOLDS_FILE).is_file()
    fails(["export", "--model", str(run_dir), "--out", str(out)], "not empty", "--force")
    (out / "notes.txt").write_text("mine")
    invoke(["-q", "export", "--model", str(run_dir), "--out", str(out), "--force"])
    assert {p.name for p in out.iterdir()} == TEXT_FILES | {"notes.txt"}  # no stale thresholds.json
    assert set(EXPORT_FILES) >= TEXT_FILES


def test_cli_errors_are_one_line(runs, tmp_path, monkeypatch):
    run_dir, _ = runs("rand")
    fails(["export", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o")], "not found")
    fails(["export", "--model", str(run_dir), "--out", str(run_dir), "--force"], "run directory itself")
    (tmp_path / "file").write_text("x")
    fails(["export", "--model", str(run_dir), "--out", str(tmp_path / "file")], "not a directory")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    fails(["export", "--model", str(run_dir), "--out", str(tmp_path / "o")], "onnxruntime is missing",
          r'pip install -e "\.\[onnx\]"')
    assert not (tmp_path / "o").exists()


def test_a_jieba_model_says_its_tokenizer_cannot_be_json(tmp_path):
    pytest.importorskip("jieba")
    texts = ["这部电影非常好看", "我很喜欢这个故事", "演员的表演很精彩",
             "这部电影很无聊", "故事太糟糕了", "我不喜欢这个结局"]
    TextCNNClassifier(variant="rand", embedding_dim=8, n_filters=4, filter_sizes=(1, 2), epochs=1, tokenizer="jieba",
                      device="cpu").fit(texts, ["pos"] * 3 + ["neg"] * 3).save(tmp_path / "run")
    invoke(["-q", "export", "--model", str(tmp_path / "run"), "--out", str(tmp_path / "out")])
    tokenizer = json.loads((tmp_path / "out" / "tokenizer.json").read_text())
    assert tokenizer["name"] == "jieba" and "cannot be expressed as JSON" in tokenizer["note"]
    assert "must run jieba" in tokenizer["note"] and "must run jieba" in (tmp_path / "out" / "README.md").read_text()
    predictor, exported = TextPredictor.load(tmp_path / "run", device="cpu"), OnnxTextModel.load(tmp_path / "out")
    assert np.abs(exported.predict_proba(texts) - predictor.predict_proba(texts)).max() <= TOLERANCE


# ---- images ----
@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from textcnn.data.images import load_digits_splits
    from textcnn.estimators.image import ImageCNNClassifier

    root = tmp_path_factory.mktemp("digits")
    splits = load_digits_splits()
    train, test = splits["train"], splits["test"]
    ImageCNNClassifier(epochs=1, device="cpu").fit(train.images[:200], train.labels[:200]).save(root / "run")
    out = export_run(root / "run", root / "out")
    return ImageCNNClassifier.load(root / "run", device="cpu"), out, test.images[:200]


def test_the_digits_model_gives_pytorchs_labels_and_probabilities(digits):
    clf, out, images = digits
    exported = OnnxImageModel.load(out, threads=1)
    expected, got = clf.predict_proba(images), exported.predict_proba(images)
    assert np.abs(got - expected).max() <= TOLERANCE
    np.testing.assert_array_equal(exported.predict(images), clf.predict(images))
    assert np.abs(exported.predict_proba(images[:1]) - expected[:1]).max() <= TOLERANCE  # batch of one
    assert {p.name for p in out.iterdir()} == {"model.onnx", "contract.json", "labels.json", "README.md"}
    contract = json.loads((out / "contract.json").read_text())
    assert contract["inputs"]["images"]["shape"] == ["batch", 1, 8, 8]
    with pytest.raises(DataError, match=r"this model takes \(N, 1, 8, 8\)"):
        exported.predict_proba(np.zeros((2, 3, 8, 8)))
