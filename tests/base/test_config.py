import pytest

from textcnn.base.config import (
    FILL_CHANNEL,
    INGREDIENTS,
    PRESETS,
    RECIPES,
    STRONG_ADVERSARIAL,
    STRONG_INGREDIENTS,
    DataConfig,
    TextCNNConfig,
    TrainConfig,
    combine,
    config_from_dict,
    config_to_dict,
    recipe_params,
)
from textcnn.base.errors import ConfigError


def test_presets_are_the_four_kim_variants_with_paper_defaults():
    assert set(PRESETS) == {"rand", "static", "non-static", "multichannel"}
    cfg = PRESETS["multichannel"]
    assert (cfg.filter_sizes, cfg.n_filters, cfg.dropout, cfg.max_norm) == ((3, 4, 5), 100, 0.5, 3.0)
    train = TrainConfig()
    assert (train.optimizer, train.learning_rate, train.rho, train.eps, DataConfig().batch_size) == (
        "adadelta",
        1.0,
        0.95,
        1e-6,
        50,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"variant": "dynamic"}, "variant must be one of"),
        ({"filter_sizes": (0, 3)}, "from 1 to 5"),
        ({"filter_sizes": (6,)}, "from 1 to 5"),
        ({"filter_sizes": ()}, "from 1 to 5"),
        ({"filter_sizes": (3, 3)}, "repeat"),
        ({"dropout": 1.0}, "dropout"),
        ({"n_filters": 0}, "n_filters"),
    ],
)
def test_invalid_model_configs_are_rejected(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TextCNNConfig(**kwargs)


def test_invalid_train_and_data_configs_are_rejected():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ConfigError, match="batch_size"):
        DataConfig(batch_size=0)
    with pytest.raises(ConfigError, match="tokenizer"):
        DataConfig(tokenizer="bpe")


def test_adam_default_learning_rate():
    assert TrainConfig(optimizer="adam").learning_rate == 1e-3


def test_config_dict_round_trip_and_unknown_keys():
    cfg = TextCNNConfig(variant="static", filter_sizes=(1, 2))
    assert config_from_dict(TextCNNConfig, config_to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="unknown TextCNNConfig keys \\['width'\\]; valid keys: variant"):
        config_from_dict(TextCNNConfig, {"width": 3})



def test_every_recipe_builds_a_valid_classifier_and_kim_is_the_defaults():
    from textcnn.estimators.text import TextCNNClassifier

    assert recipe_params("kim") == {}
    for name in RECIPES:
        params = TextCNNClassifier(**recipe_params(name)).get_params()
        assert all(params[k] == v for k, v in recipe_params(name).items())
        for config in ("model", "data", "train"):
            TextCNNClassifier(**recipe_params(name)).config(config)  # the values pass the configs' checks


def test_the_strong_recipe_is_its_ingredients_with_adversarial_training_and_kims_optimiser():
    assert recipe_params("strong") == {**combine(STRONG_INGREDIENTS), "adversarial": STRONG_ADVERSARIAL,
                                       "extra_vectors": (FILL_CHANNEL,)}  # Kim's k = 300 wide, whatever the vectors
    assert not {"optimizer", "lr", "epochs", "mixup"} & set(recipe_params("strong"))  # Kim's Adadelta, 25 epochs
    assert combine(["mixup", "ensemble3"]) == {**INGREDIENTS["mixup"], **INGREDIENTS["ensemble3"]}


def test_the_adam_recipes_are_the_optimiser_ingredient_alone_and_with_the_first_strong_recipe():
    assert recipe_params("adam") == INGREDIENTS["adam"]
    assert recipe_params("strong-adam") == {**combine(["ensemble3", "mixup", "adam"]),
                                            "adversarial": STRONG_ADVERSARIAL}


def test_recipe_params_is_a_copy_and_unknown_names_are_refused():
    recipe_params("strong")["ensemble"] = 9
    assert RECIPES["strong"]["ensemble"] != 9
    with pytest.raises(ConfigError, match="recipe must be one of kim, strong"):
        recipe_params("fast")
    with pytest.raises(ConfigError, match="unknown ingredients"):
        combine(["dropout"])
