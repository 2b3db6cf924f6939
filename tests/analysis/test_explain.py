"""Explanations: winning n-grams per prediction, filter reports, neighbours per channel; and their CLI commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.cli_helpers import fails, invoke
from textcnn.analysis.explain import (
    explain_batch,
    explain_filters,
    explain_text,
    filter_report_html,
    format_explanation,
    format_filter_report,
    format_neighbours,
    window_span,
)
from textcnn.base.config import VARIANTS, TextCNNConfig
from textcnn.base.errors import ConfigError, DataError
from textcnn.data.batches import pad_batch
from textcnn.data.scripts import join_tokens
from textcnn.data.tokenizer import Tokenizer, Vocabulary
from textcnn.estimators.text import TextCNNClassifier
from textcnn.models.text import TextCNN

WORDS = ["the", "film", "was", "very", "good", "bad"]
DEMO_LABELS = ["negative", "positive"]


def _classifier(module: TextCNN, vocab: Vocabulary, tokenizer: str = "unicode") -> TextCNNClassifier:
    """A fitted-looking classifier around a hand-made module (what `load` sets up)."""
    clf = TextCNNClassifier(variant=module.config.variant, tokenizer=tokenizer)
    clf.tokenizer_, clf.vocab_, clf.classes_ = Tokenizer(tokenizer), vocab, np.asarray(["neg", "pos"])
    clf.module_, clf.device_ = module.eval(), torch.device("cpu")
    return clf


def _vocab(words: list[str]) -> Vocabulary:
    return Vocabulary(["<pad>", "<unk>", *words])


# ---------------------------------------------------------------- a hand-built model with a known answer


@pytest.fixture
def hand_built() -> TextCNNClassifier:
    """One-hot words; width-1 filters fire on "good" / "bad", width-2 filters on "very good" / "good" + anything.

    Features, in order: [h1 good, h1 bad, h2 "very good", h2 "good ·"]. The positive class weighs them
    0.5, -1, 3, 0.25, so "very good" (value 2) contributes 6.0 and "good" 0.5 + 0.25.
    """
    vocab = _vocab(WORDS)
    ix = vocab.stoi
    config = TextCNNConfig(variant="rand", filter_sizes=(1, 2), n_filters=2, embedding_dim=len(vocab), max_norm=None)
    module = TextCNN(config, len(vocab), 2, vectors=torch.eye(len(vocab)))
    width1, width2 = module.features.bank.convs
    with torch.no_grad():
        for conv in (width1, width2):
            conv.weight.zero_()
            conv.bias.zero_()
        width1.weight[0, ix["good"], 0] = 1.0
        width1.weight[1, ix["bad"], 0] = 1.0
        width2.weight[0, ix["very"], 0] = 2.0  # kernel position 0 is the earlier token of the window
        width2.weight[0, ix["good"], 1] = 2.0
        width2.bias[0] = -2.0  # fires (value 2) only on "very good"
        width2.weight[1, ix["good"], 0] = 1.0  # "good" then anything: at the end, "good" then padding
        module.head.linear.weight.copy_(torch.tensor([[-0.5, 1.0, -3.0, -0.25], [0.5, -1.0, 3.0, 0.25]]))
        module.head.linear.bias.copy_(torch.tensor([0.1, -0.2]))
    return _classifier(module, vocab)


def test_hand_built_model_explains_the_known_ngram(hand_built: TextCNNClassifier) -> None:
    e = hand_built.explain("the film was very good")
    assert (e["label"], e["tokens"]) == ("pos", ["the", "film", "was", "very", "good"])
    assert e["ngrams"] == [
        {"ngram": "very good", "start": 3, "end": 5, "widths": [2], "contribution": pytest.approx(6.0),
         "n_features": 1},
        {"ngram": "good", "start": 4, "end": 5, "widths": [1, 2], "contribution": pytest.approx(0.75),
         "n_features": 2},  # the width-2 window "good <pad>" is cut to its real token
    ]
    assert e["logit"] == pytest.approx(6.0 + 0.75 - 0.2)
    assert e["bias"] == pytest.approx(-0.2)
    assert e["probability"] == pytest.approx(hand_built.predict_proba(["the film was very good"])[0, 1])


def test_hand_built_model_other_class_and_negative_contributions(hand_built: TextCNNClassifier) -> None:
    e = hand_built.explain("very bad film")
    assert e["label"] == "neg"
    assert e["ngrams"][0] == {"ngram": "bad", "start": 1, "end": 2, "widths": [1], "contribution": pytest.approx(1.0),
                              "n_features": 1}
    forced = hand_built.explain("the film was very good", label="neg")
    assert forced["label"] == "neg"
    assert [s["ngram"] for s in forced["ngrams"]] == ["good", "very good"]  # most positive first
    assert forced["ngrams"][-1]["contribution"] == pytest.approx(-6.0)
    with pytest.raises(DataError, match=r"label 'meh' is not among the classes \['neg', 'pos'\]"):
        hand_built.explain("good", label="meh")


def test_window_span_clips_padding() -> None:
    assert window_span(0, 3, 5) == (0, 1)  # covers pad, pad, token 0
    assert window_span(4, 3, 5) == (2, 5)
    assert window_span(6, 3, 5) == (4, 5)  # covers token 4, pad, pad
    assert window_span(2, 5, 2) == (0, 2)  # a width-5 window over a 2-token text


# ---------------------------------------------------------------- exactness on random models of every variant


def _random_model(variant: str, seed: int = 0, n_classes: int = 2) -> TextCNN:
    torch.manual_seed(seed)
    config = TextCNNConfig(variant=variant, filter_sizes=(1, 3, 5), n_filters=4, embedding_dim=6)
    return TextCNN(config, 30, n_classes, vectors=torch.randn(30, 6))


@pytest.mark.parametrize("variant", VARIANTS)
def test_contributions_and_bias_sum_to_the_logit(variant: str) -> None:
    module = _random_model(variant, n_classes=3)
    module.train()  # explain must switch dropout off itself
    ids, lengths = pad_batch([[5, 9, 2, 17, 4, 4, 28, 11, 3, 6], [7, 2], [12]])
    with torch.no_grad():
        logits = module.eval()(ids, lengths)  # (B, K)
    module.train()
    for target in range(3):
        rows = explain_batch(module, ids, lengths, torch.full((3,), target))
        for b, row in enumerate(rows):
            total = row["bias"] + sum(s["contribution"] for s in row["spans"])
            torch.testing.assert_close(torch.tensor(total, dtype=torch.float32), logits[b, target])
            torch.testing.assert_close(torch.tensor(row["logits"]), logits[b])
    assert [r["target"] for r in explain_batch(module, ids, lengths)] == logits.argmax(1).tolist()


@pytest.mark.parametrize("variant", VARIANTS)
def test_classifier_explain_sums_to_the_logit(variant: str) -> None:
    vocab = _vocab([f"w{i}" for i in range(28)])
    clf = _classifier(_random_model(variant), vocab)
    e = clf.explain("w3 w7 w1 w7 w20 w5 something-unknown w9")
    total = e["bias"] + sum(s["contribution"] for s in e["ngrams"])
    torch.testing.assert_close(torch.tensor(total, dtype=torch.float32), torch.tensor(e["logit"]))
    assert e["label"] == clf.predict(["w3 w7 w1 w7 w20 w5 something-unknown w9"])[0]
    contributions = [s["contribution"] for s in e["ngrams"]]
    assert contributions == sorted(contributions, reverse=True)
    assert sum(s["n_features"] for s in e["ngrams"]) <= clf.module_.features.out_features


def test_padding_never_appears_for_a_short_text_in_a_batch() -> None:
    module = _random_model("multichannel", seed=1)
    short, long = [4, 8], [3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25]
    ids, lengths = pad_batch([long, short])  # the short row gets 10 batch-padding columns
    rows = explain_batch(module, ids, lengths)
    for row, n in zip(rows, (12, 2)):
        assert row["spans"], row
        assert all(0 <= s["start"] < s["end"] <= n for s in row["spans"])
    alone = explain_batch(module, *pad_batch([short]))[0]
    assert [(s["start"], s["end"], s["widths"], s["n_features"]) for s in alone["spans"]] == [
        (s["start"], s["end"], s["widths"], s["n_features"]) for s in rows[1]["spans"]
    ]
    torch.testing.assert_close(torch.tensor([s["contribution"] for s in alone["spans"]]),
                               torch.tensor([s["contribution"] for s in rows[1]["spans"]]))


def test_forward_with_windows_matches_forward() -> None:
    module = _random_model("non-static", seed=2)
    ids, lengths = pad_batch([[3, 4, 5, 6, 7, 8], [9], []])
    x = module.embed(ids)
    features, windows = module.features.forward_with_windows(x, lengths)
    torch.testing.assert_close(features, module.features(x, lengths))
    assert windows[2].eq(-1).all()  # the empty row has no winning window
    limits = torch.tensor([h for h in module.features.feature_widths]) - 1  # (F,) window s < length + h - 1
    assert (windows[:2] < lengths[:2, None] + limits).all()
    assert (windows[:2] >= 0).all()


def test_text_without_tokens_is_the_bias_alone(hand_built: TextCNNClassifier) -> None:
    hand_built.tokenizer_ = Tokenizer("kim")  # drops everything outside ASCII
    e = hand_built.explain("😀🎉")
    assert e["tokens"] == [] and e["ngrams"] == []
    assert e["logit"] == pytest.approx(e["bias"])
    assert e["label"] == "neg"  # bias 0.1 > -0.2
    assert "no tokens" in format_explanation(e)


def test_explain_rejects_empty_text(hand_built: TextCNNClassifier) -> None:
    with pytest.raises(DataError, match="empty or whitespace"):
        hand_built.explain("   ")


def test_format_explanation_table(hand_built: TextCNNClassifier) -> None:
    lines = format_explanation(hand_built.explain("the film was very good"), top=1).splitlines()
    assert lines[0] == "pos\t" + f"{hand_built.predict_proba(['the film was very good'])[0, 1]:.3f}" + \
        "\tthe film was very good"
    assert re.search(r"logit of pos \+6\.550 = bias -0\.200", lines[1])
    assert re.fullmatch(r"\s+1\s+\+6\.000\s+\[3:5\]\s+2\s+1\s+very good", lines[3])
    assert re.fullmatch(r"\s+\+0\.750\s+\(1 more n-grams\)", lines[4])


# ---------------------------------------------------------------- filter reports


def test_explain_filters_finds_the_known_ngram(hand_built: TextCNNClassifier) -> None:
    texts = ["the film was very good", "very good", "good film", "bad film", "the film"]
    report = hand_built.explain_filters(texts, top_filters=1, top_ngrams=3, rank_by="weight")
    pos = {c["label"]: c for c in report["classes"]}["pos"]["filters"][0]
    assert (pos["width"], pos["index"], pos["weight"]) == (2, 0, pytest.approx(3.0))
    assert [g["ngram"] for g in pos["ngrams"]] == ["very good"]  # distinct n-grams only; nothing else fires it
    assert pos["ngrams"][0]["activation"] == pytest.approx(2.0)
    neg = {c["label"]: c for c in report["classes"]}["neg"]["filters"][0]
    assert (neg["width"], neg["index"]) == (1, 1)
    assert [g["ngram"] for g in neg["ngrams"]] == ["bad"]
    contribution = hand_built.explain_filters(texts, top_filters=1, top_ngrams=3)
    assert contribution["rank_by"] == "contribution"
    with pytest.raises(ConfigError, match="rank_by must be one of contribution, weight"):
        hand_built.explain_filters(texts, rank_by="size")


def test_filter_report_html_is_escaped() -> None:
    report = {"sentences": 1, "rank_by": "weight", "classes": [{"label": "<b>pos</b>", "filters": [
        {"filter": 0, "width": 1, "index": 0, "weight": 1.0, "score": 1.0,
         "ngrams": [{"ngram": "<script>", "activation": 1.0, "sentence": "a <script> & b", "start": 1, "end": 2}]}
    ]}]}
    page = filter_report_html(report)
    assert "<script>" not in page and "<b>pos</b>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;pos&lt;/b&gt;" in page
    assert "a <mark>&lt;script&gt;</mark> &amp; b" in page


# ---------------------------------------------------------------- Chinese: n-grams shown without spaces

ZH_CHARS = ["电", "影", "非", "常", "好", "看", "差", "，"]


def _zh_tokens(text: str) -> list[str]:
    """One token per Han character or mark, runs of Latin letters as words: what `unicode` does to Chinese."""
    return re.findall(r"[\u4e00-\u9fff]|[a-z]+|\S", text.lower())


@pytest.fixture
def zh_model() -> TextCNN:
    """One-hot characters; a width-4 filter fires (value 1) only on 非常好看, a width-1 filter on 差.

    Features: [h1 差, h4 非常好看]; the positive class weighs them -1, 2, the negative class 1, -2.
    """
    vocab = _vocab(ZH_CHARS)
    ix = vocab.stoi
    config = TextCNNConfig(variant="rand", filter_sizes=(1, 4), n_filters=1, embedding_dim=len(vocab), max_norm=None)
    module = TextCNN(config, len(vocab), 2, vectors=torch.eye(len(vocab)))
    width1, width4 = module.features.bank.convs
    with torch.no_grad():
        for conv in (width1, width4):
            conv.weight.zero_()
            conv.bias.zero_()
        width1.weight[0, ix["差"], 0] = 1.0
        for position, char in enumerate("非常好看"):
            width4.weight[0, ix[char], position] = 1.0
        width4.bias[0] = -3.0  # 1 only when all four characters are in place
        module.head.linear.weight.copy_(torch.tensor([[1.0, -2.0], [-1.0, 2.0]]))
        module.head.linear.bias.zero_()
    return module.eval()


def test_chinese_ngrams_have_no_spaces_in_the_table_and_json(zh_model: TextCNN) -> None:
    vocab = _vocab(ZH_CHARS)
    e = explain_text(zh_model, _zh_tokens, vocab, ["neg", "pos"], "这部电影非常好看！")
    assert e["tokens"] == list("这部电影非常好看！")
    assert (e["label"], e["ngrams"][0]["ngram"], e["ngrams"][0]["start"], e["ngrams"][0]["end"]) == (
        "pos", "非常好看", 4, 8)
    assert e["ngrams"][0]["contribution"] == pytest.approx(2.0)
    assert '"ngram": "非常好看"' in json.dumps(e, ensure_ascii=False)
    assert re.fullmatch(r"\s+1\s+\+2\.000\s+\[4:8\]\s+4\s+1\s+非常好看", format_explanation(e).splitlines()[3])
    mixed = explain_text(zh_model, _zh_tokens, vocab, ["neg", "pos"], "iPhone 差，Apple")
    assert mixed["tokens"] == ["iphone", "差", "，", "apple"]
    assert mixed["ngrams"][0]["ngram"] == "差"
    assert all(" " not in s["ngram"] for s in e["ngrams"] + mixed["ngrams"])


def test_chinese_filter_report_has_no_spaces_but_english_keeps_them(
    zh_model: TextCNN, hand_built: TextCNNClassifier
) -> None:
    texts = ["这部电影非常好看", "电影很差", "非常差", "好看"]
    report = explain_filters(zh_model, _zh_tokens, _vocab(ZH_CHARS), ["neg", "pos"], texts, top_filters=1,
                             rank_by="weight")
    by_label = {c["label"]: c["filters"][0] for c in report["classes"]}
    assert [g["ngram"] for g in by_label["pos"]["ngrams"]] == ["非常好看"]
    assert [g["ngram"] for g in by_label["neg"]["ngrams"]] == ["差"]  # distinct n-grams: 差 twice, listed once
    best = by_label["pos"]["ngrams"][0]
    assert best["sentence"].split(" ")[best["start"]:best["end"]] == list("非常好看")  # tokens, for the context
    assert "      1.000  非常好看" in format_filter_report(report).splitlines()
    page = filter_report_html(report)
    assert "<td><b>非常好看</b></td><td>这部电影<mark>非常好看</mark></td>" in page
    assert "电影很<mark>差</mark>" in page
    english = filter_report_html(hand_built.explain_filters(["the film was very good", "bad film"], top_filters=1,
                                                            rank_by="weight"))
    assert "<td><b>very good</b></td><td>the film was <mark>very good</mark></td>" in english
    assert "<mark>bad</mark> film" in english


# ---------------------------------------------------------------- neighbours


@pytest.fixture
def two_channels() -> TextCNNClassifier:
    """Static: "bad" sits next to "good". Fine-tuned: "bad" has moved next to "awful" (Kim 2014 Table 3)."""
    vocab = _vocab(["good", "great", "bad", "awful", "film"])
    module = TextCNN(TextCNNConfig(variant="multichannel", filter_sizes=(1,), n_filters=2, embedding_dim=3),
                     len(vocab), 2, vectors=torch.zeros(len(vocab), 3))
    static = [[0, 0, 0], [0.99, 0.1, 0], [1, 0, 0], [0.7, 0.7, 0], [0.99, 0.1, 0], [0, 0.2, 1], [0, 1, 0]]
    tuned = [[0, 0, 0], [0, 0.1, 1], [1, 0, 0], [0.9, 0.1, 0], [0, 0.1, 1], [0, 0, 1], [0, 1, 0]]
    with torch.no_grad():  # <unk> (row 1) duplicates "bad" in both channels: it must never be a neighbour
        module.static.weight.copy_(torch.tensor(static))
        module.tuned.weight.copy_(torch.tensor(tuned))
    return _classifier(module, vocab)


def test_neighbours_in_each_channel(two_channels: TextCNNClassifier) -> None:
    result = two_channels.neighbours("BAD", top_k=2, compare=["good"])
    assert result["word"] == "bad"
    static, tuned = result["channels"]["static"], result["channels"]["fine-tuned"]
    assert [h["word"] for h in static] == ["good", "great"]
    assert [h["word"] for h in tuned] == ["awful", "film"]
    assert static[0]["similarity"] == pytest.approx(0.99 / np.hypot(0.99, 0.1), abs=1e-6)
    assert tuned[0]["similarity"] == pytest.approx(1 / np.hypot(0.1, 1), abs=1e-6)
    assert result["similarities"]["good"]["static"] == pytest.approx(static[0]["similarity"], abs=1e-6)
    assert result["similarities"]["good"]["fine-tuned"] == pytest.approx(0.0, abs=1e-6)
    everyone = two_channels.neighbours("bad", top_k=10)["channels"]
    for hits in everyone.values():
        assert sorted(h["word"] for h in hits) == ["awful", "film", "good", "great"]  # no <pad>, <unk> or itself


def test_neighbours_with_one_channel() -> None:
    vocab = _vocab([f"w{i}" for i in range(28)])
    result = _classifier(_random_model("non-static"), vocab).neighbours("w3", top_k=3)
    assert result["channels"]["static"] is None
    assert len(result["channels"]["fine-tuned"]) == 3
    assert "static channel: absent" in format_neighbours(result)


def test_neighbours_unknown_word(two_channels: TextCNNClassifier) -> None:
    with pytest.raises(DataError, match=r"'baad' is not in the model's vocabulary \(5 words\); did you mean bad"):
        two_channels.neighbours("baad")
    with pytest.raises(DataError, match="not in the model's vocabulary"):
        two_channels.neighbours("<unk>")
    with pytest.raises(DataError, match="'zzz' is not in"):
        two_channels.neighbours("bad", compare=["zzz"])
    with pytest.raises(ConfigError, match="top_k must be at least 1"):
        two_channels.neighbours("bad", top_k=0)


# ---------------------------------------------------------------- the CLI on a tiny multichannel demo model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Multichannel, word2vec trained on the demo texts (no --vectors), 2 epochs."""
    run_dir = tmp_path_factory.mktemp("explain") / "run"
    invoke(["train", "--variant", "multichannel", "--embedding-dim", "8", "--n-filters", "4", "--epochs", "2",
            "--out", str(run_dir)], env={"TEXTCNN_VECTORS": None})
    return run_dir


def test_cli_predict_explain_table(model_dir: Path) -> None:
    out = invoke(["predict", "--model", str(model_dir), "--explain", "a wonderful film", "a dull , boring mess"]).stdout
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 2
    for block, text in zip(blocks, ["a wonderful film", "a dull , boring mess"]):
        lines = block.splitlines()
        label, _, echoed = lines[0].split("\t")
        assert label in DEMO_LABELS and echoed == text
        logit, bias = map(float, re.search(r"logit of \w+ ([-+][\d.]+) = bias ([-+][\d.]+)", lines[1]).groups())
        shown = [float(line.split()[1]) for line in lines[3:]]
        assert logit == pytest.approx(bias + sum(shown), abs=2e-3 * (len(shown) + 2))
        for line in lines[3:]:
            assert line.split("  ")[-1].strip() in text


def test_cli_predict_explain_json(model_dir: Path) -> None:
    texts = ["a wonderful film", "a dull , boring mess"]
    out = invoke(["predict", "--model", str(model_dir), "--explain", "--json", *texts]).stdout
    records = [json.loads(line) for line in out.strip().splitlines()]
    plain = [json.loads(line) for line in invoke(["predict", "--model", str(model_dir), "--json", *texts]).stdout
             .strip().splitlines()]
    for record, expected in zip(records, plain):
        assert (record["text"], record["label"]) == (expected["text"], expected["label"])
        assert record["probability"] == pytest.approx(expected["probability"], abs=1e-6)
        assert record["logit"] == pytest.approx(record["bias"] + sum(s["contribution"] for s in record["ngrams"]),
                                                abs=1e-5)
        for s in record["ngrams"]:
            assert s["ngram"] == join_tokens(record["tokens"][s["start"]:s["end"]])  # for English: " ".join
            assert set(s["widths"]) <= {3, 4, 5}


def test_cli_neighbours(model_dir: Path) -> None:
    out = invoke(["neighbours", "wonderful", "--model", str(model_dir), "--top-k", "3", "--vs", "awful"]).stdout
    assert "nearest neighbours of 'wonderful' (multichannel model" in out
    assert re.search(r"^static\s+fine-tuned$", out, re.M)
    assert re.search(r"^similarity to 'awful': static -?[\d.]+\s+fine-tuned -?[\d.]+$", out, re.M)
    result = json.loads(invoke(["neighbours", "Wonderful", "--model", str(model_dir), "--json"]).stdout)
    for hits in result["channels"].values():
        words = [h["word"] for h in hits]
        assert len(words) == 5 and "wonderful" not in words
        assert not {"<pad>", "<unk>"} & set(words)
    fails(["neighbours", "wonderfull", "--model", str(model_dir)], r"'wonderfull' is not in the model's vocabulary")


def test_cli_explain_filters(model_dir: Path, tmp_path: Path) -> None:
    page = tmp_path / "report" / "filters.html"
    out = invoke(["explain-filters", "--model", str(model_dir), "--top-filters", "2", "--top-ngrams", "3",
                  "--out", str(page)]).stdout
    assert out.startswith("60 training sentences scanned")  # the demo set's training split
    assert re.search(r"^negative: the 2 filters with the largest contribution$", out, re.M)
    assert len(re.findall(r"^  filter h[345]#\d+ \(width [345], weight ", out, re.M)) == 4
    assert f"report: {page}" in out
    assert page.stat().st_size > 0 and page.read_text(encoding="utf-8").startswith("<!doctype html>")

    report = json.loads(invoke(["explain-filters", "--model", str(model_dir), "--json", "--rank-by", "weight",
                                "--max-sentences", "10"]).stdout)
    assert report["sentences"] == 10 and report["rank_by"] == "weight"
    assert [c["label"] for c in report["classes"]] == DEMO_LABELS
    for cls in report["classes"]:
        weights = [f["weight"] for f in cls["filters"]]
        assert len(weights) == 5 and weights == sorted(weights, reverse=True)


def test_cli_explain_filters_train_file_and_bad_out(model_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text("label\ttext\n1\ta wonderful film\n0\ta dull film\n", encoding="utf-8")
    out = invoke(["explain-filters", "--model", str(model_dir), "--train-file", str(path)]).stdout
    assert out.startswith("2 training sentences scanned")
    fails(["explain-filters", "--model", str(model_dir), "--out", str(tmp_path / "r.png")], r"written as HTML")
    assert not (tmp_path / "r.png").exists()
