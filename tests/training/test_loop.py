import json
from collections.abc import Iterator

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from textcnn.base.config import TrainConfig
from textcnn.base.errors import ConfigError, TextCNNError, TrainingError
from textcnn.data.batches import Batch
from textcnn.training.loop import fit_model, make_optimizer, predict_logits, resolve_device


class TensorBatches:
    """Fixed-size batches over in-memory tensors; reversed order when not shuffling, to test reordering."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def epoch(self, generator: torch.Generator | None) -> Iterator[Batch]:
        order = torch.randperm(len(self.x), generator=generator) if generator else torch.arange(len(self.x)).flip(0)
        for idx in order.split(self.batch_size):
            yield Batch(idx, (self.x[idx],), self.y[idx])


class Clamped(nn.Linear):
    """A linear model with a constraint hook that counts its calls."""

    calls = 0

    def apply_constraints(self) -> None:
        self.calls += 1


def _blobs(n: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    return torch.randn(n, 2, generator=g) + 4 * y.unsqueeze(1).float(), y


def test_fit_learns_separable_data_and_calls_constraints_each_step():
    x, y = _blobs()
    model = Clamped(2, 2)
    result = fit_model(
        model,
        TensorBatches(x, y),
        TrainConfig(epochs=10, seed=1, optimizer="adam", lr=0.05, device="cpu"),
        dev=(TensorBatches(x, y), y),
    )
    assert result.best_dev_acc > 0.9
    assert model.calls == 10 * 15
    assert [r.epoch for r in result.history] == list(range(1, 11))


def test_fit_restores_the_best_dev_epoch():
    x, y = _blobs()
    dev_y = 1 - y  # dev labels flipped: learning makes dev worse, so the best dev epoch is early
    model = nn.Linear(2, 2)
    result = fit_model(
        model, TensorBatches(x, y), TrainConfig(epochs=6, seed=0, device="cpu"), dev=(TensorBatches(x, dev_y), dev_y)
    )
    best = max(r.dev_acc for r in result.history)
    assert result.best_dev_acc == best
    final = (predict_logits(model, TensorBatches(x, dev_y), torch.device("cpu")).argmax(1) == dev_y).float().mean()
    assert final.item() == pytest.approx(best)


def test_patience_stops_early():
    x, y = _blobs()
    result = fit_model(
        nn.Linear(2, 2),
        TensorBatches(x, y),
        TrainConfig(epochs=20, patience=2, device="cpu"),
        dev=(TensorBatches(x, 1 - y), 1 - y),
    )
    assert len(result.history) < 20


class Enough(Exception):
    pass


def test_on_epoch_sees_every_finished_epoch_and_an_error_it_raises_stops_training_there(tmp_path):
    x, y = _blobs()
    seen = []

    def on_epoch(record) -> None:  # noqa: ANN001
        seen.append((record.epoch, record.dev_acc))
        if record.epoch == 3:
            raise Enough

    with pytest.raises(Enough):
        fit_model(nn.Linear(2, 2), TensorBatches(x, y), TrainConfig(epochs=6, device="cpu"),
                  dev=(TensorBatches(x, y), y), resume_dir=tmp_path, on_epoch=on_epoch)
    assert [epoch for epoch, _ in seen] == [1, 2, 3] and all(acc is not None for _, acc in seen)
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 3  # saved before the hook ran


def test_predict_logits_returns_original_order():
    x, y = _blobs(10)
    model = nn.Linear(2, 2)
    torch.testing.assert_close(predict_logits(model, TensorBatches(x, y, 3), torch.device("cpu")), model(x).detach())


def test_dry_run_takes_a_few_steps_of_one_epoch():
    x, y = _blobs()
    model = Clamped(2, 2)
    result = fit_model(model, TensorBatches(x, y), TrainConfig(epochs=9, dry_run=True, dry_run_batches=2, device="cpu"))
    assert len(result.history) == 1 and model.calls == 2


def test_same_seed_same_weights_in_deterministic_mode():
    x, y = _blobs()
    weights = []
    for _ in range(2):
        torch.manual_seed(123)
        model = nn.Linear(2, 2)
        fit_model(model, TensorBatches(x, y), TrainConfig(epochs=2, seed=7, deterministic=True, device="cpu"))
        weights.append(model.weight.detach().clone())
    torch.use_deterministic_algorithms(False)
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=0)


def test_non_finite_loss_stops_with_a_clear_error():
    x, y = _blobs()
    x[0, 0] = float("nan")
    with pytest.raises(TextCNNError, match="non-finite"):
        fit_model(nn.Linear(2, 2), TensorBatches(x, y), TrainConfig(epochs=1, device="cpu"))


class PoisonedBatches(TensorBatches):
    """Batch `bad` of epoch 2 (and every later batch) holds a NaN."""

    def __init__(self, x, y, bad: int) -> None:
        super().__init__(x, y)
        self.bad, self.epochs = bad, 0

    def epoch(self, generator):
        self.epochs += 1
        for step, batch in enumerate(super().epoch(generator)):
            if self.epochs == 2 and step >= self.bad:
                batch = Batch(batch.index, (batch.inputs[0] * float("nan"),), batch.labels)
            yield batch


def test_non_finite_loss_names_the_first_bad_step_and_keeps_the_last_good_state(tmp_path):
    x, y = _blobs()  # 15 batches per epoch
    with pytest.raises(TrainingError, match=r"non-finite at step 20 \(epoch 2, batch 5 of 15\); the state after "
                                            r"epoch 1 is kept"):
        fit_model(nn.Linear(2, 2), PoisonedBatches(x, y, bad=4), TrainConfig(epochs=3, device="cpu"),
                  dev=(TensorBatches(x, y), y), resume_dir=tmp_path)
    kept = load_file(str(tmp_path / json.loads((tmp_path / "state.json").read_text())["folder"] / "last.safetensors"))
    assert json.loads((tmp_path / "state.json").read_text())["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in kept.values())


def test_cuda_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(TextCNNError, match="no CUDA GPU"):
        resolve_device("cuda")


def _text_setup(seed: int = 0, dropout: float = 0.5):
    from textcnn.base.config import TextCNNConfig
    from textcnn.data.batches import TokenBatches
    from textcnn.models.text import TextCNN

    gen = torch.Generator().manual_seed(seed)
    ids = [torch.randint(1, 40, (int(n),), generator=gen).tolist() for n in torch.randint(1, 9, (60,), generator=gen)]
    labels = [int(s[0] < 20) for s in ids]
    torch.manual_seed(seed)
    module = TextCNN(TextCNNConfig(variant="multichannel", n_filters=4, embedding_dim=6, dropout=dropout), 40, 2)
    return module, TokenBatches(ids, labels, 10, shuffle=True), TokenBatches(ids, None, 16, shuffle=False)


@pytest.mark.parametrize("option", ["fused_conv", "sparse_embeddings"])
def test_exact_speed_options_train_to_the_same_weights(option):
    weights = []
    for on in (False, True):
        module, train, _ = _text_setup()
        module.set_speed_options(**{option: on})
        fit_model(module, train, TrainConfig(epochs=2, device="cpu", deterministic=True))
        weights.append(module.state_dict())
    for name in weights[0]:
        torch.testing.assert_close(weights[1][name], weights[0][name], rtol=1e-4, atol=1e-5, msg=name)


def test_bf16_autocast_trains_and_predicts_close_to_float32():
    logits = []
    for bf16 in (False, True):
        module, train, everything = _text_setup()
        fit_model(module, train, TrainConfig(epochs=2, device="cpu", bf16=bf16))
        logits.append(predict_logits(module, everything, torch.device("cpu")))
    assert torch.isfinite(logits[1]).all()
    assert (logits[1].argmax(1) == logits[0].argmax(1)).float().mean() > 0.8


def test_compiled_model_gives_the_plain_model_logits():
    module, _, everything = _text_setup()
    plain = predict_logits(module, everything, torch.device("cpu"))
    compiled = torch.compile(module, dynamic=True)  # forward only: about 30 s of compilation on 2 CPU cores
    torch.testing.assert_close(predict_logits(compiled, everything, torch.device("cpu")), plain, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # inductor compiles forward and backward: minutes on 2 CPU cores (run with -m slow)
def test_compiled_training_matches_plain_training():
    weights = []
    for compile in (False, True):
        module, train, _ = _text_setup(dropout=0.0)  # inductor draws dropout masks from its own RNG
        fit_model(module, train, TrainConfig(epochs=1, device="cpu", deterministic=True, compile=compile))
        weights.append(module.state_dict())
    for name in weights[0]:
        torch.testing.assert_close(weights[1][name], weights[0][name], rtol=1e-3, atol=1e-4, msg=name)


def test_sparse_embedding_gradients_need_adadelta():
    module, train, _ = _text_setup()
    module.set_speed_options(sparse_embeddings=True)
    with pytest.raises(TextCNNError, match="adadelta"):
        fit_model(module, train, TrainConfig(epochs=1, device="cpu", optimizer="adam"))


# ---- learning-rate schedules ----
def _flat_dev(n: int = 60) -> tuple[TensorBatches, torch.Tensor]:
    """All-zero dev inputs with balanced labels: a linear model scores exactly 0.5 every epoch (no improvement)."""
    y = torch.arange(n) % 2
    return TensorBatches(torch.zeros(n, 2), y), y


def _lrs(**schedule) -> list[float]:
    x, y = _blobs()
    config = TrainConfig(epochs=7, optimizer="sgd", lr=0.1, device="cpu", **schedule)
    return [r.lr for r in fit_model(nn.Linear(2, 2), TensorBatches(x, y), config, dev=_flat_dev()).history]


def test_plateau_halves_the_lr_after_patience_epochs_without_dev_improvement():
    # epoch 1 sets the best dev score; epochs 2-3 do not beat it → cut; the count restarts: 4-5 → cut again
    assert _lrs(lr_schedule="plateau", lr_factor=0.5, lr_patience=2) == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


def test_plateau_keeps_the_lr_while_dev_improves():
    x, y = _blobs()
    config = TrainConfig(epochs=6, optimizer="sgd", lr=0.1, device="cpu", lr_schedule="plateau", lr_patience=1)
    torch.manual_seed(0)
    result = fit_model(nn.Linear(2, 2), TensorBatches(x, y), config, dev=(TensorBatches(x, y), y))
    dev = [r.dev_acc for r in result.history]
    assert dev[0] < dev[1] < dev[2] == dev[3] == dev[4]  # better for 3 epochs, then level
    assert [r.lr for r in result.history] == pytest.approx([0.1] * 4 + [0.05, 0.025])  # cuts after epochs 4 and 5


def test_no_schedule_leaves_the_lr_unchanged():
    assert _lrs() == [0.1] * 7
    assert _lrs(lr_schedule="none", lr_patience=1) == [0.1] * 7


def test_cosine_schedule_anneals_over_the_epochs():
    import math

    assert _lrs(lr_schedule="cosine") == pytest.approx([0.05 * (1 + math.cos(math.pi * k / 7)) for k in range(7)])


def test_plateau_without_a_dev_set_is_a_config_error():
    from textcnn.base.errors import ConfigError

    x, y = _blobs()
    with pytest.raises(ConfigError, match="plateau.*no dev set"):
        fit_model(nn.Linear(2, 2), TensorBatches(x, y), TrainConfig(epochs=1, device="cpu", lr_schedule="plateau"))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("lr_schedule", "step", "lr_schedule must be one of none, plateau, cosine; got 'step'"),
    ("lr_factor", 1.0, r"lr_factor must be in \(0, 1\)"),
    ("lr_factor", 0.0, r"lr_factor must be in \(0, 1\)"),
    ("lr_patience", 0, "lr_patience must be a whole number of epochs ≥ 1; got 0"),
    ("lr_patience", 2.5, "lr_patience must be a whole number"),
])
def test_bad_lr_schedule_settings_are_config_errors(field, value, message):
    from textcnn.base.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**{field: value})


def test_selection_last_keeps_the_last_epoch_whatever_the_dev_score():
    x, y = _blobs()
    dev_y = 1 - y  # learning makes dev worse: "accuracy" keeps the first epoch
    weights, results = [], []
    for selection, dev in (("last", (TensorBatches(x, dev_y), dev_y)), ("accuracy", None)):
        torch.manual_seed(0)
        model = nn.Linear(2, 2)
        config = TrainConfig(epochs=6, seed=0, device="cpu", selection=selection)
        results.append(fit_model(model, TensorBatches(x, y), config, dev=dev))
        weights.append(model.state_dict())
    for name in weights[0]:  # the same weights as a run that never saw a dev set: the last epoch's
        torch.testing.assert_close(weights[0][name], weights[1][name], rtol=0, atol=0)
    assert results[0].best_epoch == 6 and results[0].best_dev_acc == results[0].history[-1].dev_acc


def test_selection_last_refuses_patience():
    with pytest.raises(ConfigError, match="patience stops on the dev score"):
        TrainConfig(selection="last", patience=2)
    with pytest.raises(ConfigError, match="selection must be one of auto, accuracy, macro-f1, micro-f1, last"):
        TrainConfig(selection="best")


def test_adam_eps_reaches_adam_and_only_adam():
    module = nn.Linear(2, 2)
    assert make_optimizer(module, TrainConfig(optimizer="adam")).param_groups[0]["eps"] == 1e-8  # PyTorch's default
    keras = make_optimizer(module, TrainConfig(optimizer="adam", adam_eps=1e-7))  # Keras's Adam ε
    assert isinstance(keras, torch.optim.Adam) and keras.param_groups[0]["eps"] == 1e-7
    adadelta = make_optimizer(module, TrainConfig(optimizer="adadelta", adam_eps=1e-7))
    assert adadelta.param_groups[0]["eps"] == 1e-6  # Adadelta keeps its own `eps`


def test_adam_eps_must_be_positive():
    with pytest.raises(ConfigError, match="adam_eps must be positive"):
        TrainConfig(adam_eps=0.0)


# ---- mixup (issue 23) ----
class MixedLinear(nn.Module):
    """A linear model over 2-d points that takes the loop's `mix=` (the features it mixes are the inputs) and
    `noise=` (adversarial training's step, on the inputs too), recording both and the inputs it trains on."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(2, 2)
        self.mixes: list = []
        self.noises: list = []
        self.inputs: list = []

    def forward(self, x: torch.Tensor, mix=None, noise=None) -> torch.Tensor:  # noqa: ANN001
        self.mixes.append(mix)
        self.noises.append(noise)
        x = x if noise is None else noise(x)
        self.inputs.append(x.detach().clone())
        return self.linear(x if mix is None else mix(x))


class PlainLinear(MixedLinear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def _fit(model: nn.Module, **config) -> dict[str, torch.Tensor]:
    x, y = _blobs()
    fit_model(model, TensorBatches(x, y), TrainConfig(epochs=3, seed=1, optimizer="adam", lr=0.05, device="cpu",
                                                       **config), dev=(TensorBatches(x, y), y))
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(("switch", "passed"), [("mixup", "mixes"), ("adversarial", "noises")])
def test_mixup_or_adversarial_training_off_trains_exactly_as_a_model_without_it_and_passes_nothing(switch, passed):
    mixed = MixedLinear()
    off, plain = _fit(mixed, **{switch: 0.0}), _fit(PlainLinear())
    assert all(torch.equal(off[k], plain[k]) for k in off)
    assert getattr(mixed, passed) and all(m is None for m in getattr(mixed, passed))


def test_mixup_mixes_each_training_batch_reproducibly_and_changes_the_weights():
    first, again = MixedLinear(), MixedLinear()
    a, b = _fit(first, mixup=0.4), _fit(again, mixup=0.4)
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed, same λs and row orders
    train_mixes = [m for m in first.mixes if m is not None]
    assert len(train_mixes) == 3 * 15  # every training step, never the dev evaluation
    weights = [m.weight for m in train_mixes]
    assert all(0.0 <= w <= 1.0 for w in weights) and len(set(weights)) > 1
    assert all(sorted(m.order.tolist()) == list(range(len(m.order))) for m in train_mixes)
    off = _fit(MixedLinear())
    assert not all(torch.equal(a[k], off[k]) for k in a)


class AdversarialNaN(MixedLinear):
    """Its adversarial pass (the one given an aimed step) turns non-finite from its `bad`-th training step on;
    the clean pass stays finite."""

    def __init__(self, bad: int) -> None:
        super().__init__()
        self.bad, self.aimed = bad, 0

    def forward(self, x: torch.Tensor, mix=None, noise=None) -> torch.Tensor:  # noqa: ANN001
        out = super().forward(x, mix, noise)
        if noise is not None and noise.step is not None:
            self.aimed += 1
            if self.aimed > self.bad:
                return out * float("nan")
        return out


def test_a_non_finite_adversarial_pass_stops_training_at_its_own_step():
    with pytest.raises(TrainingError, match=r"non-finite at step 7 \(epoch 1, batch 7 of 15\)"):
        _fit(AdversarialNaN(bad=6), adversarial=0.5)


def test_mixup_needs_a_model_that_takes_mix():
    with pytest.raises(ConfigError, match="mixup needs a model whose forward takes mix="):
        _fit(PlainLinear(), mixup=0.2)


@pytest.mark.parametrize("bad", [-0.1, True, "1"])
def test_mixup_must_be_a_non_negative_concentration(bad):
    with pytest.raises(ConfigError, match="mixup must be a Beta concentration"):
        TrainConfig(mixup=bad)


def test_resuming_a_state_that_already_stopped_early_trains_no_further_epoch(tmp_path):
    x, y = _blobs()
    config = TrainConfig(epochs=20, patience=2, seed=1, optimizer="adam", lr=0.05, device="cpu")
    flat = (TensorBatches(x, torch.zeros_like(y)), torch.zeros_like(y))  # dev labels all 0: no steady improvement
    first = fit_model(Clamped(2, 2), TensorBatches(x, y), config, dev=flat, resume_dir=tmp_path)
    assert len(first.history) < 20  # stopped early
    model = Clamped(2, 2)
    again = fit_model(model, TensorBatches(x, y), config, dev=flat, resume_dir=tmp_path, resume=True)
    assert len(again.history) == len(first.history) and model.calls == 0  # not one more step
    assert again.best_epoch == first.best_epoch


# ---- adversarial training (issue 23) ----
def test_adversarial_training_steps_on_the_clean_and_the_moved_inputs_gradients_summed():
    x, y = _blobs(8)
    model = MixedLinear()
    start = {k: v.clone() for k, v in model.linear.state_dict().items()}
    config = TrainConfig(epochs=1, seed=1, optimizer="sgd", lr=0.1, momentum=0.0, device="cpu", selection="last",
                         adversarial=0.3)
    fit_model(model, TensorBatches(x, y, batch_size=8), config)  # one step
    clean, moved = model.inputs[0], model.inputs[1]
    torch.testing.assert_close((moved - clean).flatten(1).norm(dim=1), torch.full((8,), 0.3))
    reference = nn.Linear(2, 2)
    reference.load_state_dict(start)
    inputs = clean.clone().requires_grad_()
    loss = nn.functional.cross_entropy(reference(inputs), y[model_order(x, clean)])
    loss.backward()
    step = 0.3 * inputs.grad / inputs.grad.norm(dim=1, keepdim=True)
    torch.testing.assert_close(moved, clean + step)
    nn.functional.cross_entropy(reference(clean + step), y[model_order(x, clean)]).backward()
    with torch.no_grad():
        for name, param in reference.named_parameters():
            torch.testing.assert_close(model.state_dict()[f"linear.{name}"], param - 0.1 * param.grad)


def model_order(x: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """The row of `x` each row of `seen` is (the loop shuffles the batch)."""
    return torch.cdist(seen, x).argmin(dim=1)


def test_adversarial_training_is_reproducible_and_changes_the_weights():
    a, b = _fit(MixedLinear(), adversarial=0.5), _fit(MixedLinear(), adversarial=0.5)
    assert all(torch.equal(a[k], b[k]) for k in a)
    off = _fit(MixedLinear())
    assert not all(torch.equal(a[k], off[k]) for k in a)


def test_an_adversarial_step_as_large_as_the_inputs_warns_once_and_a_small_one_does_not(recwarn):
    _fit(MixedLinear(), adversarial=0.01)  # inputs have norms of about 1 to 6
    assert not [w for w in recwarn if "adversarial" in str(w.message)]
    with pytest.warns(UserWarning, match=r"adversarial ε 20 is \d+% of a typical example's input norm") as caught:
        _fit(MixedLinear(), adversarial=20.0)
    assert len([w for w in caught if "adversarial" in str(w.message)]) == 1  # the first step of 3 epochs only


def test_adversarial_training_needs_a_model_that_takes_noise():
    with pytest.raises(ConfigError, match="adversarial training needs a model whose forward takes noise="):
        _fit(PlainLinear(), adversarial=0.5)


@pytest.mark.parametrize("bad", [-0.1, True, "1", float("inf")])
def test_adversarial_epsilon_must_be_a_non_negative_norm(bad):
    with pytest.raises(ConfigError, match="adversarial must be the norm"):
        TrainConfig(adversarial=bad)
