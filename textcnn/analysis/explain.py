"""Why did it say that: the n-grams behind a prediction, what the filters learned, how fine-tuning moved words.

A Kim CNN is unusually readable. Each pooled feature is one filter's value on the one window of the input
that won the max, and in eval mode (dropout off) the logit of class k is bias_k + Σ_f W[k, f] · feature_f.
Summing the terms W[k, f] · feature_f over the features whose winning windows cover the same tokens gives an
exact decomposition: the contributions of all spans plus the bias equal the logit.

Spans are half-open token ranges [start, end) of the tokenized text, so `tokens[start:end]` is the n-gram.
A window that overlaps the full padding (`core.window_mask`) is cut to its real tokens: padding never appears.
An n-gram is shown as `join_tokens` writes it: `very good` in English, `非常好看` (not `非 常 好 看`) in Chinese.
"""

from __future__ import annotations

import difflib
import html
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ..base.atomic import atomic_write
from ..base.errors import ConfigError, DataError
from ..base.tokens import PAD_ID, UNK_ID
from ..data.batches import TokenBatches, pad_batch
from ..data.scripts import join_tokens
from ..data.tokenizer import Vocabulary
from ..models.ensemble import ProbabilityAverage
from ..models.text import TextCNN

if TYPE_CHECKING:
    from gensim.models import KeyedVectors  # ~1 s to import: only the neighbours need it, so they import it there

log = logging.getLogger(__name__)

STATIC, TUNED = "static", "fine-tuned"  # Kim 2014 §3.3 channel names
SCAN_BATCH_SIZE = 256


# ---------------------------------------------------------------- one prediction


def window_span(window: int, width: int, length: int) -> tuple[int, int]:
    """Tokens [start, end) of a `length`-token text under window `window` of a full-padded width-`width` filter."""
    return max(0, window - width + 1), min(window, length - 1) + 1  # window s covers s-(h-1) .. s


@torch.no_grad()
def explain_batch(module: TextCNN, ids: Tensor, lengths: Tensor, targets: Tensor | None = None) -> list[dict]:
    """Each row's logits (K,), target class and spans ranked by their contribution to the target's logit.

    ids: (B, L) right-padded token ids; lengths: (B,); targets: (B,) class indices, default the predicted class.
    """
    module.eval()  # dropout off: the logit is then exactly bias + W · features
    features, windows = module.features.forward_with_windows(module.embed(ids), lengths)  # each (B, F)
    logits = module.head(features)  # (B, K)
    targets = logits.argmax(dim=1) if targets is None else targets  # (B,)
    weight, bias = module.head.linear.weight, module.head.linear.bias  # (K, F), (K,)
    terms = features * weight[targets]  # (B, F)
    widths = module.features.feature_widths
    return [
        {
            "target": int(k), "logits": row.tolist(), "bias": float(bias[k]),
            "spans": _spans(t.tolist(), f.tolist(), w.tolist(), widths, int(n)),
        }
        for k, row, t, f, w, n in zip(targets, logits.cpu(), terms.cpu(), features.cpu(), windows.cpu(), lengths)
    ]


def _spans(
    terms: list[float], features: list[float], windows: list[int], widths: Sequence[int], length: int
) -> list[dict]:
    """Feature terms summed per token span, most positive first; features ReLU left at 0 add nothing."""
    spans: dict[tuple[int, int], dict] = {}
    for term, value, window, width in zip(terms, features, windows, widths):
        if window < 0 or value == 0.0:  # empty input, or a filter that no window turned on
            continue
        start, end = window_span(window, width, length)
        span = spans.setdefault((start, end), {"start": start, "end": end, "widths": set(), "contribution": 0.0,
                                               "n_features": 0})
        span["widths"].add(width)
        span["contribution"] += term
        span["n_features"] += 1
    ranked = sorted(spans.values(), key=lambda s: (-s["contribution"], s["start"], s["end"]))
    return [{**s, "widths": sorted(s["widths"])} for s in ranked]


def explain_text(
    module: TextCNN, tokenize: Callable[[str], list[str]], vocab: Vocabulary, classes: Sequence[str], text: str,
    target: int | None = None, device: torch.device | None = None, multi_label: bool = False,
) -> dict[str, Any]:
    """The explanation of one text: label, probability, logit, bias and its ranked n-grams (see the module doc).

    `multi_label`: the probability is the label's own sigmoid, not a softmax over the classes.
    """
    tokens = tokenize(text)
    ids, lengths = pad_batch([vocab.encode(tokens)], PAD_ID)  # (1, L), (1,)
    device = device or torch.device("cpu")
    ids, lengths = ids.to(device), lengths.to(device)
    if isinstance(module, ProbabilityAverage):
        return _explain_members(module, ids, lengths, tokens, classes, text, target, multi_label)
    targets = None if target is None else torch.tensor([target], device=device)
    row = explain_batch(module, ids, lengths, targets)[0]
    k = row["target"]
    return {
        "text": text, "tokens": tokens, "label": classes[k],
        "probability": _probability(row["logits"], k, multi_label),
        "logit": row["logits"][k], "bias": row["bias"], "ngrams": _named_spans(row["spans"], tokens),
    }


def _named_spans(spans: list[dict], tokens: list[str]) -> list[dict]:
    return [{"ngram": join_tokens(tokens[s["start"] : s["end"]]),
             **{key: s[key] for key in ("start", "end", "widths", "contribution", "n_features")}} for s in spans]


@torch.inference_mode()
def _explain_members(
    ensemble: ProbabilityAverage, ids: Tensor, lengths: Tensor, tokens: list[str], classes: Sequence[str], text: str,
    target: int | None, multi_label: bool,
) -> dict[str, Any]:
    """An ensemble's explanation: label and probability are the ensemble's; the logit, bias and each n-gram's
    contribution are the means over members, so the contributions plus the bias still add up to the logit
    (the members' mean logit of the label: an exact decomposition of that, not of the averaged probability)."""
    ensemble.eval()
    combined = ensemble(ids, lengths)[0]  # (K,)
    k = int(combined.argmax()) if target is None else target
    rows = [explain_batch(member, ids, lengths, torch.tensor([k], device=ids.device))[0] for member in ensemble.members]
    spans: dict[tuple[int, int], dict] = {}
    for row in rows:
        for s in row["spans"]:
            merged = spans.setdefault((s["start"], s["end"]), {"start": s["start"], "end": s["end"], "widths": set(),
                                                               "contribution": 0.0, "n_features": 0})
            merged["widths"].update(s["widths"])
            merged["contribution"] += s["contribution"] / len(rows)
            merged["n_features"] += s["n_features"]
    ranked = sorted(spans.values(), key=lambda s: (-s["contribution"], s["start"], s["end"]))
    probability = torch.sigmoid(combined[k]) if multi_label else torch.softmax(combined, dim=0)[k]
    return {
        "text": text, "tokens": tokens, "label": classes[k], "probability": float(probability),
        "logit": sum(r["logits"][k] for r in rows) / len(rows), "bias": sum(r["bias"] for r in rows) / len(rows),
        "ngrams": _named_spans([{**s, "widths": sorted(s["widths"])} for s in ranked], tokens),
        "members": len(rows),
    }


def _one_network(module: Any, what: str) -> None:
    if isinstance(module, ProbabilityAverage):
        raise ConfigError(f"{what} belong to one network, and this model averages {len(module.members)} (trained with "
                          "--ensemble); inspect a model trained without --ensemble")


def _probability(logits: list[float], k: int, multi_label: bool) -> float:
    values = torch.tensor(logits)
    return float(torch.sigmoid(values[k]) if multi_label else torch.softmax(values, dim=0)[k])


def format_explanation(explanation: Mapping[str, Any], top: int | None = 10) -> str:
    """A ranked table of the n-grams behind one prediction, for the terminal."""
    e = explanation
    spans = e["ngrams"] if top is None else e["ngrams"][:top]
    lines = [
        f"{e['label']}\t{e['probability']:.3f}\t{e['text']}",
        f"logit of {e['label']} {e['logit']:+.3f} = bias {e['bias']:+.3f} + the contributions of these n-grams:",
        f"{'rank':>4}  {'contrib':>8}  {'tokens':<9}{'widths':<8}{'features':>8}  n-gram",
    ]
    for rank, s in enumerate(spans, 1):
        where, widths = f"[{s['start']}:{s['end']}]", ",".join(map(str, s["widths"]))
        lines.append(f"{rank:>4}  {s['contribution']:>+8.3f}  {where:<9}{widths:<8}{s['n_features']:>8}  {s['ngram']}")
    rest = e["ngrams"][len(spans):]
    if rest:
        lines.append(f"      {sum(s['contribution'] for s in rest):>+8.3f}  ({len(rest)} more n-grams)")
    if not e["ngrams"]:
        lines.append("      (no tokens: the logit is the bias alone)")
    return "\n".join(lines)


# ---------------------------------------------------------------- what the filters learned


def training_texts(splits: Mapping[str, Any]) -> list[str]:
    """The texts of a dataset's training split (its single "all" split for Kim's CV datasets)."""
    split = splits["train"] if "train" in splits else splits.get("all")
    if split is None:
        raise DataError(f"the dataset has no train split (it has: {', '.join(splits)})")
    return list(split.texts)


def evenly_spaced(items: Sequence[Any], limit: int) -> list[Any]:
    """At most `limit` items spread over the whole sequence (files are often sorted by label)."""
    if limit < 1:
        raise ConfigError(f"max_sentences must be at least 1; got {limit}")
    n = len(items)
    return list(items) if n <= limit else [items[i * n // limit] for i in range(limit)]


@torch.no_grad()
def _scan(module: TextCNN, ids: list[list[int]], device: torch.device) -> tuple[Tensor, Tensor]:
    """Pooled features (S, F) and their winning windows (S, F) of every sentence, in input order."""
    module.eval()
    n_features = module.features.out_features
    features, windows = torch.zeros(len(ids), n_features), torch.full((len(ids), n_features), -1)
    for batch in TokenBatches(ids, None, SCAN_BATCH_SIZE, shuffle=False).epoch(None):
        batch_ids, lengths = batch.to(device).inputs  # (B, L), (B,)
        f, w = module.features.forward_with_windows(module.embed(batch_ids), lengths)  # each (B, F)
        features[batch.index], windows[batch.index] = f.float().cpu(), w.cpu()
    return features, windows  # each (S, F)


FILTER_RANKINGS = ("contribution", "weight")


def filter_scores(weight: Tensor, features: Tensor, rank_by: str = "contribution") -> Tensor:
    """How much each filter speaks for each class, (K, F), from weights (K, F) and scanned features (S, F).

    "weight": the class's classifier weight W[k, f]. "contribution": the filter's mean contribution to the
    margin of class k over the other classes, (W[k, f] - mean_j≠k W[j, f]) · mean_s feature[s, f]; it prefers
    filters that fire often, and reads more clearly than the raw weight.
    """
    if rank_by not in FILTER_RANKINGS:
        raise ConfigError(f"rank_by must be one of {', '.join(FILTER_RANKINGS)}; got {rank_by!r}")
    if rank_by == "weight":
        return weight
    others = (weight.sum(dim=0, keepdim=True) - weight) / max(weight.shape[0] - 1, 1)  # (K, F)
    return (weight - others) * features.mean(dim=0)  # (K, F)


def explain_filters(
    module: TextCNN, tokenize: Callable[[str], list[str]], vocab: Vocabulary, classes: Sequence[str],
    texts: Sequence[str], top_filters: int = 5, top_ngrams: int = 5, max_sentences: int = 5000,
    rank_by: str = "contribution", device: torch.device | None = None,
) -> dict[str, Any]:
    """For each class, its `top_filters` filters (see `filter_scores`) and the training n-grams that fire them most.

    Each scanned sentence offers the n-gram that won a filter's max-pool; a filter's list keeps the
    `top_ngrams` distinct n-grams with the highest activations (Kim-style "what did the filters learn").
    """
    _one_network(module, "the filters")
    if top_filters < 1 or top_ngrams < 1:
        raise ConfigError(f"top_filters and top_ngrams must be at least 1; got {top_filters}, {top_ngrams}")
    tokens = [t for t in (tokenize(text) for text in evenly_spaced(texts, max_sentences)) if t]
    if not tokens:
        raise DataError("no training sentence has any tokens under the model's tokenizer; check the dataset")
    features, windows = _scan(module, [vocab.encode(t) for t in tokens], device or torch.device("cpu"))
    weight = module.head.linear.weight.detach().float().cpu()  # (K, F)
    scores = filter_scores(weight, features, rank_by)  # (K, F)
    widths = module.features.feature_widths
    per_width = len(widths) // len(set(widths))
    report = []
    for k, label in enumerate(classes):
        chosen = torch.argsort(scores[k], descending=True)[: min(top_filters, weight.shape[1])].tolist()
        report.append({"label": str(label), "filters": [
            {"filter": f, "width": widths[f], "index": f % per_width, "weight": float(weight[k, f]),
             "score": float(scores[k, f]),
             "ngrams": _top_ngrams(features[:, f], windows[:, f], widths[f], tokens, top_ngrams)}
            for f in chosen
        ]})
    return {"sentences": len(tokens), "rank_by": rank_by, "classes": report}


def _top_ngrams(values: Tensor, windows: Tensor, width: int, tokens: list[list[str]], k: int) -> list[dict]:
    """The `k` distinct n-grams with the highest activation of one filter; values, windows: (S,).

    `sentence` is the scanned sentence's tokens separated by single spaces (tokens hold no spaces), so that
    `sentence.split(" ")[start:end]` are the n-gram's tokens; `ngram` is those tokens as `join_tokens` shows them.
    """
    found: dict[str, dict] = {}
    for s in torch.argsort(values, descending=True).tolist():
        if len(found) == k or values[s] <= 0:  # ReLU 0: the filter did not fire on this sentence
            break
        start, end = window_span(int(windows[s]), width, len(tokens[s]))
        ngram = join_tokens(tokens[s][start:end])
        found.setdefault(ngram, {"ngram": ngram, "activation": float(values[s]), "sentence": " ".join(tokens[s]),
                                 "start": start, "end": end})
    return list(found.values())


def _filter_name(f: Mapping[str, Any]) -> str:
    return f"h{f['width']}#{f['index']}"


def _filter_numbers(f: Mapping[str, Any], rank_by: str) -> str:
    numbers = f"width {f['width']}, weight {f['weight']:+.3f}"
    return numbers if rank_by == "weight" else f"{numbers}, mean contribution {f['score']:+.3f}"


def format_filter_report(report: Mapping[str, Any]) -> str:
    """The filter report as plain text: per class, each top filter and its strongest n-grams."""
    lines = [f"{report['sentences']} training sentences scanned"]
    for cls in report["classes"]:
        lines.append(f"\n{cls['label']}: the {len(cls['filters'])} filters with the largest {report['rank_by']}")
        for f in cls["filters"]:
            lines.append(f"  filter {_filter_name(f)} ({_filter_numbers(f, report['rank_by'])})")
            lines.extend(f"    {g['activation']:7.3f}  {g['ngram']}" for g in f["ngrams"])
            if not f["ngrams"]:
                lines.append("    (fires on no scanned sentence)")
    return "\n".join(lines)


_HTML_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin:.3em 0 1.2em}"
    "td,th{padding:.15em .6em;text-align:left;vertical-align:top}td.num{text-align:right;font-family:monospace}"
    "mark{background:#ffe08a}small{color:#666}"
)


def filter_report_html(report: Mapping[str, Any], title: str = "What did the filters learn?") -> str:
    """A self-contained HTML page of the filter report; every text is escaped."""
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{_HTML_STYLE}</style></head><body><h1>{e(title)}</h1>",
             f"<p>{report['sentences']} training sentences scanned. Filters ranked by {e(report['rank_by'])} "
             "per class; for each, the distinct n-grams that won its max-pool with the highest activation.</p>"]
    for cls in report["classes"]:
        parts.append(f"<h2>{e(cls['label'])}</h2>")
        for f in cls["filters"]:
            parts.append(f"<h3>filter {e(_filter_name(f))} <small>{e(_filter_numbers(f, report['rank_by']))}"
                         "</small></h3><table><tr><th>activation</th><th>n-gram</th><th>in context</th></tr>")
            for g in f["ngrams"]:
                context = _marked_context(g["sentence"].split(" "), g["start"], g["end"])
                parts.append(f"<tr><td class='num'>{g['activation']:.3f}</td><td><b>{e(g['ngram'])}</b></td>"
                             f"<td>{context}</td></tr>")
            parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _marked_context(tokens: Sequence[str], start: int, end: int) -> str:
    """The sentence as escaped HTML, tokens [start, end) in <mark>, spaced as `join_tokens` spaces them."""
    pieces = [(tokens[:start], "{}"), (tokens[start:end], "<mark>{}</mark>"), (tokens[end:], "{}")]
    out, last = "", None
    for part, template in pieces:
        if not part:
            continue
        if last is not None and join_tokens([last, part[0]]) != last + part[0]:  # join_tokens put a space here
            out += " "
        out += template.format(html.escape(join_tokens(part)))
        last = part[-1]
    return out


def write_filter_report(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write the HTML filter report to `path` (.html or .htm) atomically."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"the filter report is written as HTML; got {path.name!r}, use a name ending in .html")
    path.parent.mkdir(parents=True, exist_ok=True)
    page = filter_report_html(report)
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


# ---------------------------------------------------------------- neighbours in each channel


def channel_vectors(module: TextCNN, vocab: Vocabulary) -> dict[str, KeyedVectors | None]:
    """The static and fine-tuned embedding channels as gensim KeyedVectors (None for a channel the variant lacks).

    `<pad>` and `<unk>` are left out so that they never appear as neighbours.
    """
    from gensim.models import KeyedVectors

    _one_network(module, "the embedding channels")
    first = max(PAD_ID, UNK_ID) + 1
    words = vocab.itos[first:]
    channels: dict[str, KeyedVectors | None] = {}
    for name, embedding in ((STATIC, module.static), (TUNED, module.tuned)):
        if embedding is None:
            channels[name] = None
            continue
        matrix = embedding.weight.detach().float().cpu().numpy()[first:]  # (V - 2, E)
        vectors = KeyedVectors(vector_size=matrix.shape[1])
        vectors.add_vectors(words, matrix)
        channels[name] = vectors
    return channels


def neighbours(
    module: TextCNN, vocab: Vocabulary, word: str, top_k: int = 5, lowercase: bool = True,
    compare: Sequence[str] = (),
) -> dict[str, Any]:
    """The `top_k` nearest words (cosine) to `word` in each channel, and its similarity to each `compare` word.

    Kim 2014 Table 3: after fine-tuning, "bad" moves away from "good".
    """
    if top_k < 1:
        raise ConfigError(f"top_k must be at least 1; got {top_k}")
    channels = channel_vectors(module, vocab)
    key = _vocab_key(word, channels, lowercase)
    others = [_vocab_key(w, channels, lowercase) for w in compare]
    found = {
        name: None if vectors is None else
        [{"word": w, "similarity": float(s)} for w, s in vectors.most_similar(key, topn=top_k)]
        for name, vectors in channels.items()
    }
    similarities = {
        other: {name: None if v is None else float(v.similarity(key, other)) for name, v in channels.items()}
        for other in others
    }
    return {"word": key, "variant": module.config.variant, "channels": found, "similarities": similarities}


def _vocab_key(word: str, channels: Mapping[str, KeyedVectors | None], lowercase: bool) -> str:
    """`word` as the vocabulary spells it; a word the model never saw is a DataError with suggestions."""
    key = word.strip().lower() if lowercase else word.strip()
    present = next(v for v in channels.values() if v is not None)
    if key not in present.key_to_index:
        close = difflib.get_close_matches(key, present.index_to_key, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; try a word from the training data"
        raise DataError(f"{word!r} is not in the model's vocabulary ({len(present)} words){hint}")
    return key


def format_neighbours(result: Mapping[str, Any]) -> str:
    """The neighbours of one word, one column per channel (an absent channel says so)."""
    channels = result["channels"]
    columns = {name: [f"{h['word']}  {h['similarity']:.3f}" for h in hits]
               for name, hits in channels.items() if hits is not None}
    width = max(len(cell) for name, cells in columns.items() for cell in [name, *cells]) + 4
    lines = [f"nearest neighbours of {result['word']!r} ({result['variant']} model, cosine similarity)"]
    lines.append("".join(f"{name:<{width}}" for name in columns).rstrip())
    for i in range(max(len(cells) for cells in columns.values())):
        lines.append("".join(f"{cells[i] if i < len(cells) else '':<{width}}" for cells in columns.values()).rstrip())
    for other, sims in result.get("similarities", {}).items():
        cells = "   ".join(f"{name} {sim:.3f}" for name, sim in sims.items() if sim is not None)
        lines.append(f"similarity to {other!r}: {cells}")
    for name, hits in channels.items():
        if hits is None:
            lines.append(f"({name} channel: absent; a {result['variant']} model has no {name} embeddings)")
    return "\n".join(lines)
