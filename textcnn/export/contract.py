"""What an exported folder holds and promises: file names, the graph's inputs and outputs, how to tokenise.

`contract.json` is the machine-readable promise and the folder's README.md says the same in words; both are built
here from one dict, so they cannot drift apart. Nothing here imports torch or onnxruntime.
"""

from __future__ import annotations

from typing import Any

from ..base.errors import ConfigError
from ..base.tokens import PAD_ID, UNK_ID
from ..base.version import __version__

ONNX_EXTRA = 'pip install -e ".[onnx]"'
FORMAT, FORMAT_VERSION = "textcnn-onnx", 1
# The TorchScript-based exporter at opset 17 keeps the masked max-over-time (Where + ReduceMax over a dynamic
# length) and the empty-input rule; tests/export/test_onnx.py checks both against PyTorch.
OPSET = 17
MODEL_FILE = "model.onnx"
CONTRACT_FILE = "contract.json"
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.json"
LABELS_FILE = "labels.json"
THRESHOLDS_FILE = "thresholds.json"
README_FILE = "README.md"
EXPORT_FILES = (MODEL_FILE, CONTRACT_FILE, TOKENIZER_FILE, VOCAB_FILE, LABELS_FILE, THRESHOLDS_FILE, README_FILE)
OUTPUT = "probabilities"

# Each tokenizer (name, version) as a call of textcnn.data.tokenizer's public functions, and in words.
_KIM_CHARS = "every character outside A-Za-z0-9(),!?'` becomes a space"
_KIM = ("clean_str(text, lowercase={lowercase}).split()", f"Kim's clean_str: {_KIM_CHARS}, the clitics 's 've n't "
        "'re 'd 'll and the marks , ! ( ) ? are split off, then the text is split on whitespace")
_KIM_SST = ("clean_str_sst(text, lowercase={lowercase}).split()",
            f"Kim's clean_str_sst: {_KIM_CHARS}, then the text is split on whitespace")
_TOKENIZER_CALLS = {
    ("kim", 1): _KIM, ("kim", 2): _KIM, ("kim-sst", 1): _KIM_SST, ("kim-sst", 2): _KIM_SST,
    ("unicode", 1): ("unicode_tokens_v1(text, lowercase={lowercase})",
                     "runs of letters and digits of any script (inner apostrophes kept), and single marks"),
    ("unicode", 2): ("unicode_tokens(text, lowercase={lowercase})",
                     "words of scripts written with spaces, one token per Han or kana character, one grapheme "
                     "cluster per Thai/Lao/Khmer/Myanmar token, single marks and whole emoji sequences (regex's \\X)"),
    ("jieba", 2): ("jieba_tokens(text, lowercase={lowercase})",
                   "runs of Han characters cut into words by jieba.lcut (jieba's default dictionary, HMM on); "
                   "everything else as unicode_tokens cuts it"),
    ("char", 2): ("char_tokens(text, lowercase={lowercase})",
                  "one token per character (grapheme cluster) of every script, spaces dropped"),
}
OWN_FUNCTION_NOTE = ("textcnn's own function (textcnn/data/tokenizer.py): call it, or port it and check the port "
                     "against it on your texts")
JIEBA_NOTE = ("the jieba tokenizer cannot be expressed as JSON: it depends on jieba's dictionary and HMM model; "
              "the caller must run jieba (jieba.lcut, default dictionary, HMM on{version}) with the same settings, "
              "e.g. by calling textcnn.data.tokenizer.jieba_tokens")


def require_onnx() -> None:
    """Raise a ConfigError naming the extra to install when onnx or onnxruntime is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"ONNX export needs onnx and onnxruntime ({err.name} is missing): {ONNX_EXTRA}") from err


def tokenizer_description(name: str, lowercase: bool, version: int, max_tokens: int | None) -> dict[str, Any]:
    """tokenizer.json: the scheme, its settings, the textcnn function that implements it, and what it does."""
    if (name, version) not in _TOKENIZER_CALLS:
        raise ConfigError(f"no export description for tokenizer {name!r} version {version}")
    call, words = _TOKENIZER_CALLS[name, version]
    description = {
        "name": name, "lowercase": lowercase, "version": version, "max_tokens": max_tokens,
        "module": "textcnn.data.tokenizer", "call": call.format(lowercase=lowercase),
        "does": words + (" (tokens lowercased)" if lowercase else ""),
        "note": OWN_FUNCTION_NOTE,
    }
    if name == "jieba":
        description["note"] = JIEBA_NOTE.format(version=_jieba_version())
    return description


def text_contract(tokenizer: dict[str, Any], n_labels: int, multi_label: bool, source: str,
                  exporter: str) -> dict[str, Any]:
    """contract.json of a text model: token ids and lengths in, probabilities out."""
    output = ("one sigmoid per label of labels.json; label k is predicted when probabilities[:, k] >= "
              "thresholds.json[k]" if multi_label else "softmax over the labels of labels.json; each row sums to 1")
    return {
        **_header("text", source, exporter),
        "inputs": {
            "ids": {"dtype": "int64", "shape": ["batch", "length"],
                    "meaning": f"token ids (indices into vocab.json's itos), right-padded with pad_id {PAD_ID}"},
            "lengths": {"dtype": "int64", "shape": ["batch"],
                        "meaning": "real tokens per row; 0 for a text with no tokens (it gets zero features)"},
        },
        "outputs": {OUTPUT: {"dtype": "float32", "shape": ["batch", n_labels], "meaning": output}},
        "pad_id": PAD_ID, "unk_id": UNK_ID, "multi_label": multi_label,
        "files": {"model": MODEL_FILE, "tokenizer": TOKENIZER_FILE, "vocabulary": VOCAB_FILE, "labels": LABELS_FILE,
                  "thresholds": THRESHOLDS_FILE if multi_label else None},
        "steps": [
            f"tokenise each text as {TOKENIZER_FILE} says ({tokenizer['module']}.{tokenizer['call']})",
            f"keep the first max_tokens ({tokenizer['max_tokens']}) tokens of each text",
            f"map each token to its index in {VOCAB_FILE}'s itos list; a token not in it is unk_id {UNK_ID}",
            f"right-pad the batch with pad_id {PAD_ID} to its longest row, at least 1 column",
            "lengths: the real tokens of each row (0 for a text without tokens)",
        ],
    }


def image_contract(in_channels: int, image_size: int, n_labels: int, source: str, exporter: str) -> dict[str, Any]:
    """contract.json of an image model: float images in, probabilities out."""
    return {
        **_header("image", source, exporter),
        "inputs": {"images": {"dtype": "float32", "shape": ["batch", in_channels, image_size, image_size],
                              "meaning": "pixels in [0, 1], scaled as in training (digits: count / 16, "
                                         "8-bit PNG: value / 255)"}},
        "outputs": {OUTPUT: {"dtype": "float32", "shape": ["batch", n_labels],
                             "meaning": "softmax over the labels of labels.json; each row sums to 1"}},
        "multi_label": False,
        "files": {"model": MODEL_FILE, "labels": LABELS_FILE},
    }


def _header(task: str, source: str, exporter: str) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "task": task, "opset": OPSET, "exporter": exporter,
            "textcnn_version": __version__, "source_run": source}


def _jieba_version() -> str:
    try:
        import jieba
    except ImportError:
        return ""
    return f"; jieba {jieba.__version__} at export"


_ROLES = {"model": "the network, probabilities out", "tokenizer": "how to tokenise: name, lowercase, version, "
          "max_tokens and the textcnn function", "vocabulary": "itos: the token of each id", "labels": "the label of "
          "each output column", "thresholds": "the decision threshold of each label, in labels.json's order"}


def readme(contract: dict[str, Any], tokenizer: dict[str, Any] | None) -> str:
    """The folder's README.md: the contract in words, and the Python that runs it."""
    text = contract["task"] == "text"
    lines = [f"# textcnn {contract['task']} model, exported to ONNX", "",
             f"Exported from `{contract['source_run']}` by textcnn {contract['textcnn_version']} with "
             f"{contract['exporter']}, opset {contract['opset']}. `{CONTRACT_FILE}` says the same for programs.", "",
             "## Inputs and outputs", ""]
    for kind in ("inputs", "outputs"):
        for name, spec in contract[kind].items():
            shape = ", ".join(map(str, spec["shape"]))
            lines.append(f"- {kind[:-1]} `{name}`: {spec['dtype']} ({shape}): {spec['meaning']}")
    lines += ["", "## Files", "", *(f"- `{name}`: {_ROLES[role]}" for role, name in contract["files"].items() if name)]
    if tokenizer is not None:
        lines += ["", "## From texts to inputs", "", *(f"{i}. {step}" for i, step in enumerate(contract["steps"], 1))]
        lines += ["", f"Tokenizer `{tokenizer['name']}` (version {tokenizer['version']}): {tokenizer['does']}.",
                  f"Note: {tokenizer['note']}."]
    runner, example = ("OnnxTextModel", '["a gripping , funny film"]') if text else ("OnnxImageModel", "images")
    feed = '{"ids": ids, "lengths": lengths}' if text else '{"images": images}'
    lines += ["", "## Running it", "", "```python", f"from textcnn.export.runtime import {runner}", "",
              f'model = {runner}.load("THIS_FOLDER")', f"probabilities = model.predict_proba({example})", "```", "",
              f'or with onnxruntime alone: `onnxruntime.InferenceSession("{MODEL_FILE}").run(None, {feed})[0]`.']
    return "\n".join(lines) + "\n"
