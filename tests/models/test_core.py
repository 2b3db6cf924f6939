import pytest
import torch

from textcnn.models.core import ClassifierHead, ConvBank, MaskedConvPool, masked_max_pool, window_mask


def test_window_mask_counts_windows_that_touch_a_real_token():
    # width 3 over a 2-token sentence padded to 4: windows 0..3 touch tokens 0..1, windows 4..5 only padding
    mask = window_mask(torch.tensor([2, 0]), width=3, n_windows=6)
    assert mask.tolist() == [[True, True, True, True, False, False], [False] * 6]


def test_masked_max_pool_ignores_masked_positions_even_if_larger():
    x = torch.tensor([[[1.0, 9.0, 2.0]]])
    assert masked_max_pool(x, torch.tensor([[True, False, True]])).item() == 2.0


def test_masked_max_pool_gives_zero_for_rows_without_valid_positions():
    x = torch.full((2, 3, 4), 5.0)
    pooled = masked_max_pool(x, torch.zeros(2, 4, dtype=torch.bool))
    assert torch.equal(pooled, torch.zeros(2, 3))


def test_masked_max_pool_works_over_two_spatial_dims():
    x = torch.arange(8.0).reshape(1, 2, 2, 2)
    valid = torch.tensor([[[True, False], [False, False]]])
    assert masked_max_pool(x, valid).tolist() == [[0.0, 4.0]]


def test_conv_bank_full_padding_gives_every_window_that_touches_the_input():
    bank = ConvBank(1, in_channels=2, n_filters=3, widths=(1, 3, 5))
    maps = bank(torch.randn(4, 2, 7))
    assert [tuple(m.shape) for m in maps] == [(4, 3, 7), (4, 3, 9), (4, 3, 11)]
    assert all((m >= 0).all() for m in maps)  # ReLU


def test_conv_bank_is_generic_over_two_dimensions():
    maps = ConvBank(2, in_channels=3, n_filters=4, widths=(3,), full_padding=False)(torch.randn(1, 3, 8, 8))
    assert tuple(maps[0].shape) == (1, 4, 6, 6)


def test_masked_conv_pool_padding_cannot_change_features():
    torch.manual_seed(0)
    pool = MaskedConvPool(in_channels=4, n_filters=5, widths=(2, 4))
    x = torch.randn(1, 4, 3)
    padded = torch.cat([x, torch.zeros(1, 4, 6)], dim=2)
    lengths = torch.tensor([3])
    torch.testing.assert_close(pool(x, lengths), pool(padded, lengths))
    assert pool(x, lengths).shape == (1, 10)


def test_single_token_gives_real_features_for_every_width():
    torch.manual_seed(0)
    pool = MaskedConvPool(in_channels=4, n_filters=50, widths=(1, 2, 3, 4, 5))
    features = pool(torch.randn(1, 4, 1), torch.tensor([1])).view(5, 50)
    assert (features > 0).any(dim=1).all()  # each width has some positive (real, unmasked) feature


def test_max_norm_rescales_only_rows_above_the_limit():
    head = ClassifierHead(4, 2, dropout=0.0, max_norm=3.0)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[3.0, 4.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]))
    head.apply_max_norm()
    torch.testing.assert_close(head.linear.weight.norm(dim=1), torch.tensor([3.0, 1.0]))


def test_fused_conv_pool_equals_separate_convs_in_value_and_gradient():
    torch.manual_seed(0)
    pool = MaskedConvPool(6, 4, (1, 3, 5))
    lengths = torch.tensor([7, 3, 0, 1, 5])
    x = torch.randn(5, 6, 7) * (torch.arange(7) < lengths.unsqueeze(1)).unsqueeze(1)  # zero vectors as padding
    results = []
    for fused in (False, True):
        pool.zero_grad()
        pool.fused = fused
        out = pool(x, lengths)
        out.pow(2).sum().backward()
        results.append((out.detach(), [p.grad.clone() for p in pool.parameters()]))
    (plain, plain_grads), (fused, fused_grads) = results
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6)
    assert fused[2].abs().sum() == 0  # the empty row still pools to zeros
    for a, b in zip(fused_grads, plain_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# ---- mixup of pooled features (issue 23) ----
def test_a_mix_interpolates_each_row_with_its_partner_by_the_weight():
    from textcnn.models.core import Mix

    x = torch.arange(12.0).view(4, 3)
    order = torch.tensor([2, 3, 0, 1])
    torch.testing.assert_close(Mix(0.25, order)(x), 0.25 * x + 0.75 * x[order])
    assert torch.equal(Mix(1.0, order)(x), x)


def test_text_and_image_models_mix_their_pooled_features_before_the_head():
    from textcnn.base.config import TextCNNConfig
    from textcnn.models.core import Mix
    from textcnn.models.image import MODELS
    from textcnn.models.text import TextCNN

    torch.manual_seed(0)
    text = TextCNN(TextCNNConfig(variant="rand", embedding_dim=6, n_filters=3), 20, 2).eval()
    image = MODELS["digits-cnn"].builder((1, 8, 8), 10).eval()
    for model, inputs in ((text, (torch.randint(1, 20, (4, 7)),)), (image, (torch.rand(4, 1, 8, 8),))):
        order = torch.tensor([1, 0, 3, 2])
        assert torch.equal(model(*inputs, mix=Mix(1.0, order)), model(*inputs))
        captured: list[torch.Tensor] = []
        model.head.register_forward_hook(lambda _, args, out, seen=captured: seen.append(args[0]))
        model(*inputs)
        mixed = model(*inputs, mix=Mix(0.5, order))
        weight, bias = model.head.linear.weight, model.head.linear.bias
        torch.testing.assert_close(mixed, (0.5 * captured[0] + 0.5 * captured[0][order]) @ weight.T + bias)


# ---- adversarial training's perturbation (issue 23) ----
def test_a_perturbation_steps_each_example_by_epsilon_along_its_loss_gradient_and_leaves_fixed_positions():
    from textcnn.models.core import Perturbation

    x = torch.randn(3, 4, 5)
    movable = torch.ones(3, 1, 5, dtype=torch.bool)
    movable[0, :, 3:] = False  # e.g. padding
    noise = Perturbation()
    seen = noise(x, movable)
    assert torch.equal(seen, x) and seen.requires_grad  # the first pass is the clean input
    direction = torch.randn(3, 4, 5)
    (seen * direction).sum().backward()  # the loss's gradient at the input is `direction`
    noise.aim(0.7)
    moved = noise(x) - x
    torch.testing.assert_close(moved.flatten(1).norm(dim=1), torch.full((3,), 0.7))
    assert torch.equal(moved[0, :, 3:], torch.zeros(4, 2))
    expected = direction * movable
    expected = 0.7 * expected / expected.flatten(1).norm(dim=1).view(3, 1, 1)
    torch.testing.assert_close(moved, expected)
    assert ((x + moved) * direction).sum() > (x * direction).sum()  # the step raises the loss


def test_a_perturbation_cannot_aim_before_a_backward_pass_reached_the_input():
    from textcnn.models.core import Perturbation

    with pytest.raises(RuntimeError, match="needs a first pass"):
        Perturbation().aim(1.0)


@pytest.mark.parametrize("variant", ["static", "non-static"])
def test_text_and_image_models_perturb_their_inputs_and_are_unchanged_without_noise(variant):
    from textcnn.base.config import TextCNNConfig
    from textcnn.base.tokens import PAD_ID
    from textcnn.models.core import Perturbation
    from textcnn.models.image import MODELS
    from textcnn.models.text import TextCNN

    torch.manual_seed(0)
    text = TextCNN(TextCNNConfig(variant=variant, embedding_dim=6, n_filters=3), 20, 2,
                   vectors=torch.randn(20, 6)).eval()
    image = MODELS["digits-cnn"].builder((1, 8, 8), 10).eval()
    ids = torch.randint(1, 20, (4, 7))
    ids[0, 4:] = PAD_ID
    for model, inputs in ((text, (ids,)), (image, (torch.rand(4, 1, 8, 8),))):
        noise = Perturbation()
        clean = model(*inputs, noise=noise)
        assert torch.equal(clean, model(*inputs))
        clean.logsumexp(dim=1).sum().backward()  # reaches the input even through a frozen embedding
        noise.aim(0.5)
        assert not torch.equal(model(*inputs, noise=noise), clean)
        if model is text:  # padding never moves
            assert torch.equal(noise.step[0, :, 4:], torch.zeros(6, 3))
