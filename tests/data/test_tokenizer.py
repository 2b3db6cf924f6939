import pytest

from textcnn.base.errors import CheckpointError, ConfigError
from textcnn.base.tokens import UNK_ID
from textcnn.data.tokenizer import PAD, UNK, Tokenizer, Vocabulary, clean_str, clean_str_sst, unicode_tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("It's good", "it 's good"),
        ("I've seen it", "i 've seen it"),
        ("It wasn't", "it was n't"),
        ("they're here", "they 're here"),
        ("he'd go", "he 'd go"),
        ("we'll see", "we 'll see"),
        ("Yes, no! (maybe) why?", "yes , no ! ( maybe ) why ?"),
        ("café — naïve", "caf na ve"),  # everything outside A-Za-z0-9(),!?'` becomes a space
        ("a   lot\tof\nspace", "a lot of space"),
        ("``quoted''", "``quoted''"),
    ],
)
def test_clean_str_follows_kims_rules(raw, expected):
    assert clean_str(raw) == expected


def test_clean_str_emits_plain_parentheses_not_kims_backslash():
    assert "\\" not in clean_str("(a) b?")


def test_clean_str_keeps_case_when_asked_as_for_trec():
    assert clean_str("What is NASA ?", lowercase=False) == "What is NASA ?"


def test_clean_str_sst_only_filters_and_collapses_spaces():
    assert clean_str_sst("It's  a (GOOD) film, isn't it?") == "it's a (good) film, isn't it?"
    assert clean_str_sst("8 1\u00a02") == "8 1 2"  # the no-break space inside SST tokens


def test_unicode_tokens_keep_every_script_and_split_punctuation():
    assert unicode_tokens("Café crème, naïve! Добрый день. 東京") == [
        "café", "crème", ",", "naïve", "!", "добрый", "день", ".", "東京",
    ]
    assert unicode_tokens("don't stop") == ["don't", "stop"]


def test_kim_tokenizer_deletes_emoji_but_unicode_keeps_it():
    assert Tokenizer("kim")("😀😀") == []
    assert Tokenizer("unicode")("😀") == ["😀"]


def test_unknown_tokenizer_is_a_config_error():
    with pytest.raises(ConfigError, match="kim, kim-sst, unicode"):
        Tokenizer("whitespace")


def test_vocabulary_orders_by_frequency_and_respects_min_freq():
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "b", "a"]], min_freq=2)
    assert vocab.itos == [PAD, UNK, "b", "a"]
    assert vocab.encode(["a", "c", "zzz"]) == [3, UNK_ID, UNK_ID]


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary.build([["héllo", "world"], ["world"]])
    vocab.save(tmp_path / "vocab.json")
    loaded = Vocabulary.load(tmp_path / "vocab.json")
    assert loaded.itos == vocab.itos
    assert loaded.encode(["world", "héllo"]) == vocab.encode(["world", "héllo"])


def test_vocabulary_load_rejects_garbage(tmp_path):
    (tmp_path / "vocab.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="cannot read vocabulary"):
        Vocabulary.load(tmp_path / "vocab.json")
