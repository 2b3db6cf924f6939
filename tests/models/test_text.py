import pytest
import torch

from textcnn.base.config import TextCNNConfig
from textcnn.base.tokens import PAD_ID
from textcnn.models.text import TextCNN


def _model(variant: str, **kw) -> TextCNN:
    torch.manual_seed(0)
    cfg = TextCNNConfig(variant=variant, embedding_dim=6, n_filters=4, **kw)
    return TextCNN(cfg, vocab_size=12, n_classes=3, vectors=torch.randn(12, 6)).eval()


@pytest.mark.parametrize("variant", ["rand", "static", "non-static", "multichannel"])
def test_logits_alone_equal_logits_inside_a_padded_batch(variant):
    model = _model(variant, filter_sizes=(1, 2, 3, 4, 5))
    alone = model(torch.tensor([[4, 5]]))
    batch = model(torch.tensor([[4, 5, 0, 0, 0, 0], [2, 3, 4, 5, 6, 7], [8, 0, 0, 0, 0, 0]]))
    torch.testing.assert_close(alone[0], batch[0])


def test_input_shorter_than_widest_filter_gives_finite_logits():
    assert torch.isfinite(_model("non-static")(torch.tensor([[3]]))).all()


def test_empty_inputs_give_zero_features_and_do_not_crash():
    model = _model("multichannel")
    logits = model(torch.zeros(2, 1, dtype=torch.long), torch.tensor([0, 0]))
    torch.testing.assert_close(logits, model.head.linear.bias.expand(2, 3))  # zero features → bias only


def test_padding_row_is_zero_in_every_channel():
    model = _model("multichannel")
    assert torch.equal(model.static.weight[PAD_ID], torch.zeros(6))
    assert torch.equal(model.tuned.weight[PAD_ID], torch.zeros(6))


@pytest.mark.parametrize(
    ("variant", "frozen", "trained"),
    [("rand", [], ["tuned"]), ("static", ["static"], []), ("non-static", [], ["tuned"]),
     ("multichannel", ["static"], ["tuned"])],
)
def test_each_variant_trains_exactly_its_fine_tuned_channels(variant, frozen, trained):
    model = _model(variant).train()
    before = {name: getattr(model, name).weight.clone() for name in frozen + trained}
    optimizer = torch.optim.Adadelta([p for p in model.parameters() if p.requires_grad], lr=1.0)
    ids = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]])
    torch.nn.functional.cross_entropy(model(ids), torch.tensor([0, 2])).backward()
    optimizer.step()
    for name in frozen:
        assert torch.equal(getattr(model, name).weight, before[name])
    for name in trained:
        weight = getattr(model, name).weight
        assert not torch.equal(weight[1:], before[name][1:])
        assert torch.equal(weight[PAD_ID], torch.zeros(6))  # padding never trained


def test_multichannel_is_one_conv_over_both_channels():
    model = _model("multichannel")
    assert model.features.bank.convs[0].in_channels == 12


def test_vectors_of_the_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match="expected \\(12, 6\\)"):
        TextCNN(TextCNNConfig(embedding_dim=6), 12, 2, vectors=torch.zeros(12, 5))


def test_apply_constraints_enforces_max_norm():
    model = _model("rand")
    with torch.no_grad():
        model.head.linear.weight.mul_(100)
    model.apply_constraints()
    assert (model.head.linear.weight.norm(dim=1) <= 3.0 + 1e-5).all()


# ---- extra vector channels (issue 23) ----
def test_extra_channels_of_any_size_are_concatenated_and_fine_tuned():
    config = TextCNNConfig(variant="multichannel", embedding_dim=6, n_filters=3, extra_dims=(4, 9))
    vectors = torch.randn(12, 6)
    extras = [torch.randn(12, 4), torch.randn(12, 9)]
    model = TextCNN(config, 12, 2, vectors, extras)
    ids = torch.tensor([[3, 5, 7, PAD_ID]])
    embedded = model.embed(ids)  # (1, 6 + 6 + 4 + 9, 4)
    assert embedded.shape == (1, 25, 4)
    torch.testing.assert_close(embedded[0, 12:16, 0], extras[0][3])  # the first extra channel, its own vectors
    torch.testing.assert_close(embedded[0, 16:, 1], extras[1][5])
    assert all(e.weight.requires_grad for e in model.extra) and not model.static.weight.requires_grad
    model.set_speed_options(sparse_embeddings=True)
    assert all(e.sparse for e in model.extra)
    with pytest.raises(ValueError, match="extra vectors have shapes"):
        TextCNN(config, 12, 2, vectors, extras[:1])
    shapes_only = TextCNN(config, 12, 2)  # as a saved model is rebuilt: the weights are loaded afterwards
    assert [tuple(e.weight.shape) for e in shapes_only.extra] == [(12, 4), (12, 9)]
