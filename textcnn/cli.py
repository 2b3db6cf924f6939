"""The `textcnn` command line: parse options, call the library, print. No logic lives here."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from .base.config import (
    CLASS_WEIGHTS,
    DEVICES,
    LR_SCHEDULES,
    OOV_INITS,
    OPTIMIZERS,
    RECIPES,
    SELECTIONS,
    THRESHOLD_TUNE,
    TOKENIZERS,
    VARIANTS,
    as_flags,
    recipe_params,
)
from .base.errors import exit_on_user_error

DEFAULT_MODEL = "runs/latest"


class _TqdmHandler(logging.Handler):
    """Log lines written through tqdm, so they don't break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    return f"warning: {message}\n"  # one plain line, not Python's file:line form


def _setup_logging(quiet: bool) -> None:
    warnings.formatwarning = _format_warning
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("textcnn")
    root.handlers[:] = [handler]
    other_rank = os.environ.get("RANK", "0") != "0"  # under torchrun only rank 0 logs
    root.setLevel(logging.WARNING if quiet or other_rank else logging.INFO)
    root.propagate = False


def _friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one line on stderr and exit code 2 (other errors are bugs)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with exit_on_user_error():
            return command(*args, **kwargs)

    return wrapper


_ALIASES = "textcnn.aliases"


def _alias(flag: str, field: str, value: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A hidden old spelling: giving `flag` sets the option of `field` to `value` (see `_with_aliases`)."""

    def remember(ctx: click.Context, param: click.Parameter, given: bool) -> None:
        if given:
            ctx.meta.setdefault(_ALIASES, {})[field] = value

    return click.option(flag, is_flag=True, hidden=True, expose_value=False, callback=remember)


def _with_aliases(opts: dict[str, Any]) -> dict[str, Any]:
    """The parsed options with the hidden old spellings applied."""
    return {**opts, **click.get_current_context().meta.get(_ALIASES, {})}


def _recipe_help() -> str:
    bundles = "; ".join(f"{name}: {as_flags(params) or 'the defaults'}" for name, params in RECIPES.items())
    return f"A named set of option values ({bundles}); an option given explicitly wins over its recipe value."


def _with_recipe(opts: dict[str, Any]) -> dict[str, Any]:
    """The parsed options with the recipe's values in place of defaults the user left alone."""
    ctx = click.get_current_context()
    left_alone = (click.core.ParameterSource.DEFAULT, click.core.ParameterSource.DEFAULT_MAP)
    recipe = recipe_params(opts.pop("recipe"))
    return {**opts, **{name: value for name, value in recipe.items()
                       if ctx.get_parameter_source(name) in left_alone}}


def _max_norm(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    if value.strip().lower() in ("off", "none"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise click.BadParameter(f"expected a positive number or off; got {value!r}") from None
    return number or None  # 0: the old spelling of off


def _threshold(ctx: click.Context, param: click.Parameter, value: str) -> float | str:
    if value == THRESHOLD_TUNE:
        return value
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 < number < 1.0:
        raise click.BadParameter(f"give a probability in (0, 1) or {THRESHOLD_TUNE!r}; got {value!r}")
    return number


def _int_list(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in value.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers like 3,4,5; got {value!r}") from None


class _ProcessGroup(click.Group):
    """The command group. Run as a process (the `textcnn` script, `python cli.py`), it may skip teardown.

    Fast exit (start-up, issue #6): once `predict` has flushed its last line nothing is left to write, yet the
    interpreter's teardown after importing torch takes ~0.8 s; so the process ends with `os._exit` instead.
    Only `__call__` (a real process entry point) does this; CliRunner calls `main.main(...)` and exits normally.
    Off switch: TEXTCNN_FAST_EXIT=0.
    """

    fast_exit = False  # set by commands that write nothing after they end (predict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.main(*args, **kwargs)
        except SystemExit as done:
            if self.fast_exit and os.environ.get("TEXTCNN_FAST_EXIT", "1") != "0":
                _exit_without_teardown(done.code)
            raise


# the options that are JobConfig's / ImageJobConfig's fields (textcnn.jobs); the rest are the estimator's parameters
JOB_OPTIONS = ("dataset", "train_file", "dev_file", "test_file", "text_column", "label_column", "label_sep", "phrases",
               "on_disk", "out", "force", "cv", "n_seeds", "resume")
IMAGE_JOB_OPTIONS = ("dataset", "train_dir", "test_dir", "idx_dir", "out", "force", "resume")


def _options(*options: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Callable[..., Any]:
    """One decorator that adds `options` to a command, in the order given (as stacked decorators would)."""

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return add


# --adam-eps, --mixup, --adversarial and --ensemble (TrainConfig fields of the same names), shared by both trainers
_fit_options = _options(
    click.option("--adam-eps", default=1e-8, show_default=True, help="Adam's ε (PyTorch's default; Keras's is 1e-7)."),
    click.option("--mixup", default=0.0, show_default=True, type=click.FloatRange(min=0),
                 help="Mixup of pooled features, λ ~ Beta(α, α) per batch (α 0.2-1 is usual); 0 = off."),
    click.option("--adversarial", default=0.0, show_default=True, type=click.FloatRange(min=0),
                 help="Adversarial training: also train on each input moved by ε along its loss gradient "
                      "(ε = this norm per example; twice the compute per step); 0 = off."),
    click.option("--ensemble", default=1, show_default=True, type=click.IntRange(min=1),
                 help="Train N models (seeds seed..seed+N-1) saved as one that averages their probabilities."),
)

# --selection, --class-weight and --dev-fraction (the fields of the same names), shared by both trainers
_selection_options = _options(
    click.option("--selection", type=click.Choice(SELECTIONS), default="auto", show_default=True,
                 help="The weights kept: the best dev epoch's by accuracy, macro-f1 or micro-f1 (auto: accuracy, "
                      "multi-label micro-f1), or the last epoch's (last)."),
    click.option("--class-weight", type=click.Choice(CLASS_WEIGHTS),
                 help="balanced: weigh classes n / (k n_c) (multi-label: pos_weight = negatives / positives)."),
    click.option("--dev-fraction", default=0.1, show_default=True, type=click.FloatRange(0, 1, max_open=True),
                 help="Share of train held out as dev when there is no dev set; 0 = none (with --selection last)."),
)


def _run_dir_options(default_out: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--out, --force, --dry-run and --resume, shared by both trainers."""
    return _options(
        click.option("--out", type=click.Path(), help=f"Run directory (default {default_out})."),
        click.option("--force", is_flag=True, help="Overwrite an existing run directory."),
        click.option("--dry-run", is_flag=True, help="One tiny epoch on a few batches (smoke test)."),
        click.option("--resume", type=click.Path(file_okay=False), help="Continue an interrupted run at its "
                     "last finished epoch; every other option comes from the run."),
    )


# --lr-schedule, --lr-factor, --lr-patience (TrainConfig's fields of the same names), shared by both trainers
_lr_schedule_options = _options(
    click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES), default="none", show_default=True,
                 help="Per epoch. plateau: lr *= --lr-factor after --lr-patience epochs without a better dev "
                      "score (Keras's ReduceLROnPlateau); cosine: anneal to 0 over --epochs."),
    click.option("--lr-factor", default=0.5, show_default=True, help="Plateau schedule: lr *= this factor."),
    click.option("--lr-patience", default=5, show_default=True,
                 help="Plateau schedule: epochs without a better dev score before a cut."),
)


def _allow_fast_exit() -> None:
    """Let this process skip teardown once the running command ends (see `_ProcessGroup`)."""
    click.get_current_context().find_root().command.fast_exit = True


def _exit_without_teardown(code: Any) -> None:
    """`os._exit(code)` after flushing stdout and stderr; returns (for a normal exit) if that is not possible."""
    if not (code is None or isinstance(code, int)):
        return  # a message to print: let SystemExit do it
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # e.g. a closed pipe: the normal exit reports it as usual
    os._exit(code or 0)


_MAIN_EXAMPLES = """
\b
Examples:
  textcnn train                                  # demo set, offline, a few seconds
  textcnn predict "a gripping , funny film"      # uses runs/latest
  textcnn evaluate --dataset sst2 --split test
  textcnn COMMAND --help                         # every option of a command
"""


@click.group(cls=_ProcessGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_MAIN_EXAMPLES)
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def main(quiet: bool) -> None:
    """textcnn: Kim (2014) convolutional networks for sentence classification."""
    _setup_logging(quiet)


_TRAIN_EXAMPLES = """
\b
Examples:
  textcnn train                                   # the demo set in data/, offline
  TEXTCNN_DATA=../shared/data textcnn train --dataset sst2 --variant non-static \\
      --vectors ../shared/data/glove/glove.6B.50d.kim7.txt
  textcnn train --train-file reviews.csv --text-column review --label-column stars
  textcnn train --train-file amazon.tsv --on-disk --variant rand --min-freq 5 --epochs 1
"""


@main.command(epilog=_TRAIN_EXAMPLES)
@click.option("--dataset", help="A named dataset (sst2); found in data/<name>/, $TEXTCNN_DATA/<name>/ or the HF hub.")
@click.option("--train-file", type=click.Path(), help="Training file: .tsv, .csv or .jsonl.")
@click.option("--dev-file", type=click.Path(), help="Dev file for early stopping (else 10% of train).")
@click.option("--test-file", type=click.Path(), help="Test file, scored once with the best-dev model.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--multi-label", is_flag=True, help="Zero or more labels per text: sigmoid outputs, thresholds.")
@click.option("--label-sep", help="Multi-label TSV/CSV: the separator of a cell's labels, e.g. '|'.")
@click.option("--threshold", default="0.5", show_default=True, callback=_threshold,
              help="Multi-label decision threshold: a probability, or 'tune' (per label, best F1 on dev).")
@click.option("--on-disk", is_flag=True,
              help="For a --train-file larger than memory: tokenise it once into a memory-mapped cache "
                   "($HF_DATASETS_CACHE/textcnn) and train from there. One model, no --cv/--n-seeds; "
                   "pretrained variants need --vectors.")
@click.option("--recipe", type=click.Choice(tuple(RECIPES)), default="kim", show_default=True, help=_recipe_help())
@click.option("--variant", type=click.Choice(VARIANTS), default="non-static", show_default=True)
@click.option("--vectors", help="word2vec (.bin/.txt), GloVe .txt, fastText .vec, gensim .kv, or gensim-data:NAME.")
@click.option("--extra-vectors", multiple=True,
              help="Repeatable: another vector set as its own fine-tuned channel (any size): a file as for "
                   "--vectors, word2vec:DIM / fasttext:DIM trained on the training texts, rand:DIM (random, "
                   "as the rand variant), or rand:fill (random, as wide as it takes to bring each token's "
                   "embedding up to --embedding-dim; none when it is that wide already).")
@click.option("--filter-sizes", default="3,4,5", show_default=True, callback=_int_list, help="Widths from 1..5.")
@click.option("--n-filters", default=100, show_default=True, help="Feature maps per width.")
@click.option("--embedding-dim", default=300, show_default=True,
              help="For rand (and trained word2vec), and the width rand:fill fills up to.")
@click.option("--dropout", default=0.5, show_default=True)
@click.option("--max-norm", default="3.0", show_default=True, callback=_max_norm,
              help="l2 limit on classifier rows, or off.")
@click.option("--oov-init", type=click.Choice(OOV_INITS), default="uniform", show_default=True)
@click.option("--tokenizer", type=click.Choice(TOKENIZERS),
              help="Default: the dataset's own (kim for Kim's), else unicode.")
@click.option("--min-freq", default=1, show_default=True)
@click.option("--max-tokens", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Longer texts are cut to their first N tokens, with a warning.")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adadelta", show_default=True)
@click.option("--lr", type=float, help="Default 1.0 (Adadelta) or 1e-3 (Adam).")
@_fit_options
@click.option("--epochs", default=25, show_default=True)
@click.option("--batch-size", default=50, show_default=True)
@_selection_options
@click.option("--patience", type=int, help="Stop after this many epochs without a better dev score.")
@_lr_schedule_options
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--deterministic", is_flag=True, help="Deterministic kernels, one thread.")
@click.option("--bucket-by-length/--no-bucket-by-length", default=True, show_default=True,
              help="Batches of sentences of similar length (off: shuffle without grouping).")
@_alias("--no-bucketing", "bucket_by_length", False)
@click.option("--fused-conv", is_flag=True, help="Speed: all filter widths in one convolution (same results).")
@click.option("--bf16", is_flag=True, help="Speed: bfloat16 autocast (slightly different numbers).")
@click.option("--compile", is_flag=True, help="Speed: torch.compile the model (pays compile time up front).")
@click.option("--sparse-embeddings/--no-sparse-embeddings", default=True, show_default=True,
              help="Adadelta updates only the batch's embedding rows (off: every row each step, slower).")
@_alias("--dense-embeddings", "sparse_embeddings", False)
@click.option("--phrases", is_flag=True, help="SST: train on all labelled phrases of the training trees (Kim).")
@click.option("--cv", type=click.IntRange(min=2), help="k-fold cross-validation (10 when there is no test split).")
@click.option("--n-seeds", default=1, show_default=True, type=click.IntRange(min=1),
              help="Train seeds --seed, --seed+1, ... and report mean ± std.")
@_run_dir_options("runs/<dataset>-<variant>-<time>")
@_friendly_errors
def train(**opts: Any) -> None:
    """Train a Kim CNN and save it as a run directory; prints dev and test accuracy.

    Under `torchrun --nproc_per_node N` it trains with DistributedDataParallel; --batch-size is the global batch.
    """
    from .jobs.text import JobConfig, run_job

    opts = _with_aliases(_with_recipe(opts))
    job = JobConfig(**{f: opts.pop(f) for f in JOB_OPTIONS})
    _report(run_job(job, opts, progress=sys.stderr.isatty()))


def _report(summary: Any) -> None:
    if not summary.primary:
        return
    click.echo(f"saved {summary.run_dir}")
    keys = ["best_dev_acc", "test_acc", "dev_acc_mean", "dev_acc_std", "test_acc_mean", "test_acc_std",
            "test_micro_f1", "test_macro_f1"]
    if summary.metrics.get("dev_metric", "accuracy") != "accuracy":
        keys[1:1] = ["dev_metric", "best_dev_score"]
    keys += ["search"]
    click.echo(json.dumps({k: summary.metrics[k] for k in keys if k in summary.metrics}))


_SEARCH_EXAMPLES = """
\b
Examples:
  textcnn search --trials 5 --folds 2 --epochs 3          # the demo set, offline
  TEXTCNN_DATA=../shared/data textcnn search --dataset mr --variant rand --trials 30 --timeout 3600
  textcnn search --resume runs/mr-search-20261203-101500   # continue a cut-off search
"""
# train's options that a search does not take: it trains one final model, in memory
_NOT_SEARCHED = ("cv", "n_seeds", "on_disk")


@main.command(epilog=_SEARCH_EXAMPLES)
@click.option("--trials", default=20, show_default=True, type=click.IntRange(min=1), help="Optuna trials.")
@click.option("--folds", default=3, show_default=True, type=click.IntRange(min=1),
              help="Stratified folds of train, each the dev set once (1 = the dataset's dev split).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds after which no trial starts.")
@_friendly_errors
def search(**opts: Any) -> None:
    """Tune filter widths, feature maps, dropout and lr on dev folds (Optuna), then train and save the best.

    Every other option is train's and fixes that setting for all trials. The run directory holds the final
    model as `train` saves it and search.json (each trial's settings and fold scores, and the best settings).
    `--resume DIR` continues a cut-off search: its finished trials are kept, the rest run, then the final model.
    """
    from .jobs.search import SearchConfig, search_resume, search_run
    from .jobs.text import DataSource, make_classifier

    if opts["resume"]:
        _report(search_resume(opts["resume"], progress=sys.stderr.isatty()))
        return
    opts.pop("resume")
    opts = _with_aliases(_with_recipe(opts))
    config = SearchConfig(**{f: opts.pop(f) for f in ("trials", "folds", "timeout")})
    source = DataSource(**{f: opts.pop(f) for f in JOB_OPTIONS if f not in ("out", "force", "resume", *_NOT_SEARCHED)})
    out, force = opts.pop("out"), opts.pop("force")
    clf = make_classifier(source, progress=False, **opts)
    _report(search_run(clf, source, config, out, force, progress=sys.stderr.isatty()))


search.params[:0] = [p for p in train.params if p.name not in _NOT_SEARCHED]  # train's data, model and fit options


_PREDICT_EXAMPLES = """
\b
Examples:
  textcnn predict "a gripping , funny film"
  textcnn predict --json --top-k 2 "not bad at all" "dull"
  textcnn predict --explain "not bad at all"        # which n-grams made the call
  cat reviews.txt | textcnn predict - --model runs/sst2-non-static-20261123-101500
"""


@main.command(epilog=_PREDICT_EXAMPLES)
@click.argument("texts", nargs=-1)
@click.option("--file", "file", type=click.File("r", encoding="utf-8"), help="One text per line ('-' = stdin).")
@click.option("--model", "model_dir", default=DEFAULT_MODEL, show_default=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: text, label, probabilities.")
@click.option("--top-k", type=int, help="Show the k most probable classes.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--explain", is_flag=True, help="Rank the n-grams behind each prediction (with --json: all of them).")
@click.option("--top-ngrams", default=10, show_default=True, type=click.IntRange(min=1),
              help="With --explain: n-grams shown in the table.")
@click.option("--max-tokens", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Longer texts are cut to their first N tokens, with a warning.")
@_friendly_errors
def predict(texts: tuple[str, ...], file: Any, model_dir: str, as_json: bool, top_k: int | None, device: str,
            explain: bool, top_ngrams: int, max_tokens: int) -> None:
    """Predict labels for TEXTS (or '-' to read one text per line from stdin)."""
    _allow_fast_exit()
    from .analysis.explain import format_explanation
    from .data.files import read_texts
    from .estimators.predictor import TextPredictor  # neither scikit-learn nor gensim: start-up stays short

    inputs = read_texts(texts, file, sys.stdin)
    predictor = TextPredictor.load(model_dir, device=device, max_tokens=max_tokens)
    if explain:
        for text in inputs:
            if predictor.multi_label:
                _echo_label_explanations(predictor.explain_labels(text), as_json, top_ngrams)
                continue
            explanation = predictor.explain(text)
            click.echo(json.dumps(explanation, ensure_ascii=False) if as_json
                       else format_explanation(explanation, top_ngrams) + "\n")
        return
    for record in predictor.predict_records(inputs, top_k=top_k):
        probs = "  ".join(f"{name} {p:.3f}" for name, p in record["probabilities"].items())
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        elif "labels" in record:  # multi-label: every label above its threshold
            chosen = ", ".join(f"{name} {record['probabilities'].get(name, 0.0):.3f}" for name in record["labels"])
            click.echo(f"{chosen or '(no label)'}\t{record['text']}\t[{probs}]")
        else:
            click.echo(f"{record['label']}\t{record['probability']:.3f}\t{record['text']}\t[{probs}]")


def _echo_label_explanations(result: dict[str, Any], as_json: bool, top_ngrams: int) -> None:
    """A multi-label text's explanations, one per predicted label."""
    from .analysis.explain import format_explanation

    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    if not result["labels"]:
        click.echo(f"(no label above its threshold)\t{result['text']}\n")
    for explanation in result["explanations"]:
        click.echo(format_explanation(explanation, top_ngrams) + "\n")


@main.command(epilog="\b\nExample:\n  TEXTCNN_DATA=../shared/data textcnn evaluate --model runs/latest --dataset sst2")
@click.option("--model", "model_dir", default=DEFAULT_MODEL, show_default=True, type=click.Path())
@click.option("--dataset", help="A named dataset (sst2).")
@click.option("--file", "eval_file", type=click.Path(), help="A labelled .tsv/.csv/.jsonl file to score instead.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--label-sep", help="Multi-label TSV/CSV --file: the separator of a cell's labels, e.g. '|'.")
@click.option("--split", default="test", show_default=True, type=click.Choice(["train", "dev", "test", "all"]))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@click.option("--plot", is_flag=True, help="Also write a confusion-matrix PNG into the model directory.")
@_friendly_errors
def evaluate(model_dir: str, dataset: str | None, eval_file: str | None, text_column: str, label_column: str,
             label_sep: str | None, split: str, as_json: bool, plot: bool) -> None:
    """Accuracy, micro/macro F1, a per-class report and (single-label) the confusion matrix of a saved model."""
    from .jobs.text import DataSource, evaluate_run, format_evaluation

    source = DataSource(dataset, eval_file, text_column=text_column, label_column=label_column, label_sep=label_sep)
    metrics = evaluate_run(model_dir, source, "train" if eval_file else split, plot=plot)
    click.echo(json.dumps(metrics) if as_json else format_evaluation(metrics))


_SERVE_EXAMPLES = """
\b
Examples:
  textcnn serve --model runs/latest                 # http://127.0.0.1:8000 (demo page), /docs (OpenAPI)
  curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"texts": ["a gripping , funny film"]}'
  textcnn serve --batch-window-ms 0 --port 9000     # no micro-batching
"""


@main.command(epilog=_SERVE_EXAMPLES)
@click.option("--model", default=DEFAULT_MODEL, show_default=True, type=click.Path(), help="A run directory.")
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to listen on every interface.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--max-tokens", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Longer texts are cut to their first N tokens (the response says so).")
@click.option("--max-texts", default=1000, show_default=True, type=click.IntRange(min=1), help="Texts per request.")
@click.option("--max-body-bytes", default=1_000_000, show_default=True, type=click.IntRange(min=1),
              help="Largest request body.")
@click.option("--batch-window-ms", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Gather concurrent requests this long into one forward pass; 0 = off.")
@click.option("--max-batch-texts", default=2048, show_default=True, type=click.IntRange(min=1),
              help="A gathered batch runs as soon as it holds this many texts.")
@_friendly_errors
def serve(**opts: Any) -> None:
    """Serve a trained text model over HTTP: POST /predict, POST /explain, GET /health, GET /info, a demo page at /.

    Needs the serve extra: pip install -e ".[serve]".
    """
    from .serve.config import ServeConfig
    from .serve.run import serve as run_service

    run_service(ServeConfig(**opts))


_EXPORT_EXAMPLES = """
\b
Examples:
  textcnn export --model runs/latest --format onnx --out exported/demo
  textcnn export --model runs/image/latest --out exported/digits --force
"""


@main.command("export", epilog=_EXPORT_EXAMPLES)
@click.option("--model", "model_dir", default=DEFAULT_MODEL, show_default=True, type=click.Path(),
              help="A run directory (text or image).")
@click.option("--format", "fmt", type=click.Choice(["onnx"]), default="onnx", show_default=True)
@click.option("--out", required=True, type=click.Path(), help="The folder to write.")
@click.option("--force", is_flag=True, help="Overwrite a non-empty --out folder.")
@_friendly_errors
def export_model(model_dir: str, fmt: str, out: str, force: bool) -> None:
    """Export a trained model as ONNX (probabilities out) with its tokenizer, vocabulary, labels and contract.

    Needs the onnx extra: pip install -e ".[onnx]".
    """
    from .export.to_onnx import export_run

    click.echo(f"exported {export_run(model_dir, out, force=force)}")


_EXPLAIN_FILTERS_EXAMPLES = """
\b
Examples:
  textcnn explain-filters --model runs/latest      # the demo set's training split
  TEXTCNN_DATA=../shared/data textcnn explain-filters --model runs/latest --dataset sst2 --out filters.html
"""


@main.command("explain-filters", epilog=_EXPLAIN_FILTERS_EXAMPLES)
@click.option("--model", "model_dir", default=DEFAULT_MODEL, show_default=True, type=click.Path())
@click.option("--dataset", help="A named dataset (sst2) whose training split is scanned (default: the demo set).")
@click.option("--train-file", type=click.Path(), help="Scan this .tsv/.csv/.jsonl file instead.")
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--top-filters", default=5, show_default=True, type=click.IntRange(min=1),
              help="Filters per class (see --rank-by).")
@click.option("--top-ngrams", default=5, show_default=True, type=click.IntRange(min=1), help="N-grams per filter.")
@click.option("--max-sentences", default=5000, show_default=True, type=click.IntRange(min=1),
              help="Training sentences scanned (spread evenly over the split).")
@click.option("--rank-by", type=click.Choice(["contribution", "weight"]), default="contribution", show_default=True,
              help="Pick filters by mean contribution to the class margin, or by classifier weight.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write an HTML report here (.html).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_friendly_errors
def explain_filters(model_dir: str, dataset: str | None, train_file: str | None, text_column: str, label_column: str,
                    top_filters: int, top_ngrams: int, max_sentences: int, rank_by: str, out: str | None,
                    as_json: bool) -> None:
    """What did the filters learn: the training n-grams that fire each class's strongest filters."""
    from .analysis.explain import format_filter_report, training_texts, write_filter_report
    from .estimators.text import TextCNNClassifier
    from .jobs.text import DataSource

    texts = training_texts(DataSource(dataset, train_file, text_column=text_column, label_column=label_column).load())
    report = TextCNNClassifier.load(model_dir).explain_filters(texts, top_filters, top_ngrams, max_sentences, rank_by)
    path = write_filter_report(report, out) if out else None  # a bad --out fails before anything is printed
    click.echo(json.dumps(report, ensure_ascii=False) if as_json else format_filter_report(report))
    if path:
        click.echo(f"report: {path}", err=as_json)


@main.command(epilog="\b\nExample:\n  textcnn neighbours bad --vs good --model runs/sst2-multichannel")
@click.argument("word")
@click.option("--model", "model_dir", default=DEFAULT_MODEL, show_default=True, type=click.Path())
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(min=1), help="Neighbours per channel.")
@click.option("--vs", "compare", multiple=True, help="Also print WORD's similarity to this word (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the neighbours as JSON.")
@_friendly_errors
def neighbours(word: str, model_dir: str, top_k: int, compare: tuple[str, ...], as_json: bool) -> None:
    """Nearest words to WORD in the static vs the fine-tuned channel (Kim 2014 Table 3)."""
    from .analysis.explain import format_neighbours
    from .estimators.text import TextCNNClassifier

    result = TextCNNClassifier.load(model_dir).neighbours(word, top_k, compare)
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else format_neighbours(result))


_TRAIN_IMAGE_EXAMPLES = """
\b
Examples:
  textcnn train-image                                  # 8×8 digits, digits-cnn, offline
  textcnn train-image --dataset fashion_mnist --model mnist-cnn --optimizer sgd --lr 0.01 --epochs 5
  textcnn train-image --train-dir pngs/train --test-dir pngs/test --model cifar-net
"""


@main.command("train-image", epilog=_TRAIN_IMAGE_EXAMPLES)
@click.option("--dataset", help="digits (offline), mnist, fashion_mnist or cifar10 (local IDX files, else the HF hub).")
@click.option("--train-dir", type=click.Path(), help="A folder with one sub-folder of PNGs per class.")
@click.option("--test-dir", type=click.Path(), help="Test PNGs, same layout, scored once with the best-dev model.")
@click.option("--idx-dir", type=click.Path(), help="A folder with the four MNIST-format IDX files (.gz allowed).")
@click.option("--model", default="digits-cnn", show_default=True,
              help="digits-cnn, mnist-cnn, wide-cnn, wide-cnn-bn, lenet5, cifar-net or resnet18.")
@click.option("--init", default="torch", show_default=True,
              help="Conv and linear weights: torch (PyTorch's defaults) or keras (Glorot-uniform, zero biases).")
@click.option("--bn-momentum", default=0.1, show_default=True,
              help="Batch-norm running-stats momentum, PyTorch's convention (Keras's momentum 0.99 = 0.01 here).")
@click.option("--bn-eps", default=1e-5, show_default=True, help="Batch-norm ε (PyTorch's default; Keras's is 1e-3).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default="adam", show_default=True)
@click.option("--lr", type=float, help="Default 1e-3 (Adam), 0.01 (SGD) or 1.0 (Adadelta).")
@_fit_options
@click.option("--momentum", default=0.9, show_default=True, help="SGD momentum.")
@click.option("--epochs", default=60, show_default=True)
@click.option("--batch-size", default=16, show_default=True)
@_selection_options
@click.option("--patience", type=int, help="Stop after this many epochs without a better dev score.")
@_lr_schedule_options
@click.option("--augment", is_flag=True, help="Random flips and crops (padding 4) of the training images.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--deterministic", is_flag=True, help="Deterministic kernels, one thread.")
@_run_dir_options("runs/image/<dataset>-<model>-<time>")
@_friendly_errors
def train_image(**opts: Any) -> None:
    """Train an image CNN and save it as a run directory; prints dev and test accuracy."""
    from .jobs.image import ImageJobConfig, run_image_job

    job = ImageJobConfig(**{f: opts.pop(f) for f in IMAGE_JOB_OPTIONS})
    run_dir, metrics = run_image_job(job, opts, progress=sys.stderr.isatty())
    click.echo(f"saved {run_dir}")
    click.echo(json.dumps({k: metrics[k] for k in ("best_dev_acc", "test_acc") if k in metrics}))


@main.command("predict-image", epilog="\b\nExample:\n  textcnn predict-image digit.png --model runs/image/latest")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--model", "model_dir", default="runs/image/latest", show_default=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: file, label, probabilities.")
@click.option("--top-k", type=int, help="Show the k most probable classes.")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@_friendly_errors
def predict_image(files: tuple[str, ...], model_dir: str, as_json: bool, top_k: int | None, device: str) -> None:
    """Predict the class of each image FILE (PNG, sized like the model's training images)."""
    from .estimators.image import ImageCNNClassifier

    for record in ImageCNNClassifier.load(model_dir, device=device).predict_files(files, top_k=top_k):
        if as_json:
            click.echo(json.dumps(record))
        else:
            probs = "  ".join(f"{name} {p:.3f}" for name, p in record["probabilities"].items())
            click.echo(f"{record['label']}\t{record['probability']:.3f}\t{record['file']}\t[{probs}]")
