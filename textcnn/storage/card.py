"""The model card: a README.md in every run directory, generated from its own JSON files.

It says what the model does (task, labels), what it was trained on and how (job.json, when a `textcnn train` job
wrote the run, with the command line of that process), what it measured (metrics.json), its configuration
(config.json) and how to load it from the library, the CLI and the HTTP service. The YAML header is what the
Hugging Face Hub reads (library, pipeline tag). Regenerated whenever the run's files change.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from ..base.atomic import atomic_write, read_json
from .rundir import CONFIG, LABELS, METRICS

CARD = "README.md"
JOB = "job.json"  # written by textcnn.jobs (units.job_directory): the data source, protocol and parameters
_PIPELINE = {"text": "text-classification", "image": "image-classification"}
_ESTIMATOR = {"text": "TextCNNClassifier", "image": "ImageCNNClassifier"}


def write_model_card(run_dir: Path) -> Path:
    """Write (or rewrite) `run_dir/README.md` from the run's config, labels, metrics and job description."""
    text = model_card(run_dir)
    atomic_write(run_dir / CARD, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return run_dir / CARD


def model_card(run_dir: Path) -> str:
    """The model card's Markdown."""
    config, labels = read_json(run_dir / CONFIG), read_json(run_dir / LABELS)
    metrics = read_json(run_dir / METRICS) if (run_dir / METRICS).is_file() else None
    job = _job(run_dir)
    task = config["task"]
    sections = [_header(task, config), _summary(run_dir, task, config, labels), _data(job, metrics),
                _metrics(metrics, job), _config(config), _usage(run_dir, task)]
    return "\n\n".join(s for s in sections if s) + "\n"


def _job(run_dir: Path) -> dict[str, Any] | None:
    """job.json of this run, or of the multi-unit job whose unit it is (one folder up)."""
    for folder in (run_dir, run_dir.parent):
        if (folder / JOB).is_file():
            return read_json(folder / JOB)
    return None


def _header(task: str, config: dict[str, Any]) -> str:
    tags = ["textcnn", "kim-2014-cnn" if task == "text" else "cnn", _PIPELINE[task]]
    if config["train"].get("multi_label"):
        tags.append("multi-label")
    return "\n".join(["---", "library_name: textcnn", f"pipeline_tag: {_PIPELINE[task]}", "tags:",
                      *(f"- {tag}" for tag in tags), "---"])


def _summary(run_dir: Path, task: str, config: dict[str, Any], labels: list[Any]) -> str:
    model = config["model"]
    what = f"`{model.get('variant')}` Kim (2014) CNN" if task == "text" else f"`{model.get('model')}` image CNN"
    kind = "multi-label" if config["train"].get("multi_label") else "single-label"
    lines = [f"# {run_dir.resolve().name}", "",
             f"A {what} trained with textcnn {config.get('textcnn_version', '?')}: {kind} "
             f"{_PIPELINE[task].replace('-', ' ')} over {len(labels)} labels.", "",
             "Labels (in output order): " + ", ".join(f"`{label}`" for label in labels) + "."]
    thresholds = (config.get("trained") or {}).get("thresholds")
    if thresholds:
        pairs = ", ".join(f"{label} {t:.3f}" for label, t in zip(labels, thresholds))
        lines += ["", f"Decision thresholds: {pairs}."]
    return "\n".join(lines)


def _data(job: dict[str, Any] | None, metrics: dict[str, Any] | None) -> str:
    if job is None:
        return "## Data\n\nSaved by the library (no job.json): the training data is not recorded here."
    source = job.get("source", {})
    lines = ["## Data", "", "Source: " + _source(source) + "."]
    if metrics and metrics.get("train_examples"):
        lines.append(f"Training examples: {metrics['train_examples']:,}.")
    protocol = f"{job['cv']}-fold cross-validation" if job.get("cv") else "fixed split"
    lines.append(f"Protocol: {protocol}, {job.get('n_seeds', 1)} seed(s).")
    return "\n".join(lines)


def _source(source: dict[str, Any]) -> str:
    """Where the examples came from: a named dataset, files (with their columns), or the demo set."""
    files = [f"{k} `{source[k]}`" for k in ("dataset", "train_file", "dev_file", "test_file", "train_dir",
                                             "test_dir", "idx_dir") if source.get(k)]
    if not files:
        return "the demo set (data/demo)"
    extras = [f"{k} `{source[k]}`" for k in ("text_column", "label_column", "label_sep") if source.get(k)
              and source.get("train_file")]
    flags = [k for k in ("phrases", "on_disk") if source.get(k)]
    return ", ".join(files + extras + flags)


def _metrics(metrics: dict[str, Any] | None, job: dict[str, Any] | None) -> str:
    if metrics is None:
        return ""
    keys = ("test_acc", "test_micro_f1", "test_macro_f1", "best_dev_acc", "dev_metric", "best_dev_score",
            "best_epoch", "train_seconds")
    rows = [f"| {key} | {_number(metrics[key])} |" for key in keys if metrics.get(key) is not None]
    lines = ["## Metrics", "", "| metric | value |", "|---|---|", *rows]
    if job and job.get("argv"):
        lines += ["", "Produced by:", "", "```sh", _command(job["argv"]), "```"]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _command(argv: list[str]) -> str:
    """The recorded command line, as it would be typed (`python cli.py ...`)."""
    first = Path(argv[0]).name
    program = ["python", first] if first.endswith(".py") else [first]
    return shlex.join([*program, *argv[1:]])


def _config(config: dict[str, Any]) -> str:
    sections = {name: config[name] for name in ("model", "data", "train")}
    return "## Configuration\n\nFrom `config.json` (every parameter of the estimator):\n\n```json\n" + \
        json.dumps(sections, indent=1, ensure_ascii=False) + "\n```"


def _usage(run_dir: Path, task: str) -> str:
    name = _ESTIMATOR[task]
    predict = 'clf.predict(["a gripping , funny film"])' if task == "text" else "clf.predict(images)"
    lines = ["## Use", "", "```python", f"from textcnn import {name}",
             f'clf = {name}.from_pretrained("{run_dir.resolve().name}")  # a local folder or a Hub repo id',
             predict, "```"]
    if task == "text":
        lines += ["", "```sh", "python cli.py predict --model DIR \"a gripping , funny film\"",
                  "python cli.py serve --model DIR      # HTTP: POST /predict, demo page at /", "```"]
    else:
        lines += ["", "```sh", "python cli.py predict-image --model DIR image.png", "```"]
    return "\n".join(lines)
