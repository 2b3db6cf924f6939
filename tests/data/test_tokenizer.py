"""Tokenizers (Kim's, unicode with CJK by character, jieba, char), their versions, and the vocabulary."""

import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textcnn.base.config import TOKENIZER_VERSION, DataConfig
from textcnn.base.errors import CheckpointError, ConfigError
from textcnn.base.tokens import UNK_ID
from textcnn.data.tokenizer import (
    PAD,
    UNK,
    Tokenizer,
    Vocabulary,
    cjk_sample,
    clean_str,
    clean_str_sst,
    kim_on_cjk_warning,
    unicode_tokens,
    unicode_tokens_v1,
)
from textcnn.estimators.text import TextCNNClassifier


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
        "café", "crème", ",", "naïve", "!", "добрый", "день", ".", "東", "京",
    ]
    assert unicode_tokens("don't stop") == ["don't", "stop"]
    assert unicode_tokens_v1("Café crème, naïve! 東京") == ["café", "crème", ",", "naïve", "!", "東京"]


def test_kim_tokenizer_deletes_emoji_but_unicode_keeps_it():
    assert Tokenizer("kim")("😀😀") == []
    assert Tokenizer("unicode")("😀") == ["😀"]


def test_unknown_tokenizer_is_a_config_error():
    with pytest.raises(ConfigError, match="kim, kim-sst, unicode, jieba, char"):
        Tokenizer("whitespace")


# ---- unicode (version 2): CJK by character, Thai/Lao/Khmer/Myanmar by grapheme cluster ----

def test_an_unspaced_chinese_sentence_is_one_token_per_character():
    assert Tokenizer()("这部电影非常好看") == ["这", "部", "电", "影", "非", "常", "好", "看"]
    assert Tokenizer()("我爱NLP2024！") == ["我", "爱", "nlp2024", "！"]


def test_japanese_kana_and_kanji_are_one_token_each():
    assert Tokenizer()("東京タワーへ行きました。") == [
        "東", "京", "タ", "ワ", "ー", "へ", "行", "き", "ま", "し", "た", "。",
    ]
    assert Tokenizer()("人々") == ["人", "々"]  # the iteration mark is a character of its own


def test_korean_stays_word_based():
    assert Tokenizer()("나는 학생입니다. 정말 좋아요!") == ["나는", "학생입니다", ".", "정말", "좋아요", "!"]


@pytest.mark.parametrize("text", ["น้ำใจดีมาก", "ພາສາລາວ", "ភាសាខ្មែរ", "မြန်မာစာ"],
                         ids=["thai", "lao", "khmer", "myanmar"])
def test_clustered_scripts_split_into_grapheme_clusters_never_before_a_mark(text):
    tokens = Tokenizer()(text)
    assert "".join(tokens) == text and len(tokens) > 1
    assert not any(unicodedata.category(t[0]).startswith("M") for t in tokens)  # no token starts with a mark


def test_a_vowel_or_tone_mark_stays_with_its_consonant():
    assert Tokenizer()("น้ำ") == ["น้ำ"]  # น + ้ (tone mark) + ำ (vowel): one cluster
    assert Tokenizer("unicode", version=1)("น้ำ")[:2] == ["น", "้"]  # version 1 cut the mark off
    assert Tokenizer()("မာ") == ["မာ"]  # Myanmar's vowel sign ာ, which UAX #29 leaves out of the cluster


def test_mixed_chinese_english_digits_and_full_width_punctuation():
    assert Tokenizer()("我爱Python3和NLP，价格是９９元！OK? 「好」") == [
        "我", "爱", "python3", "和", "nlp", "，", "价", "格", "是", "９９", "元", "！", "ok", "?", "「", "好", "」",
    ]
    assert Tokenizer(lowercase=False)("用GPU训练") == ["用", "GPU", "训", "练"]


def test_an_emoji_with_its_modifiers_is_one_token():
    assert Tokenizer()("好看😀👍🏽👨‍👩‍👧🇨🇳") == ["好", "看", "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇨🇳"]
    assert Tokenizer("unicode", version=1)("👍🏽") == ["👍", "🏽"]  # version 1: one token per code point


def test_combining_marks_stay_with_their_letters_in_spaced_scripts():
    assert Tokenizer()("हिन्दी cafe\u0301") == ["हिन्दी", "cafe\u0301"]
    assert Tokenizer("unicode", version=1)("हिन्दी")[:2] == ["ह", "ि"]


@pytest.mark.parametrize("name", ["kim", "kim-sst", "unicode", "jieba", "char"])
def test_a_text_of_spaces_has_no_tokens(name):
    if name == "jieba":
        pytest.importorskip("jieba")
    assert Tokenizer(name)(" \u3000\t\x1c\n") == []  # ideographic space, an information separator (str.isspace)


def test_kim_leaves_nothing_of_chinese():
    assert Tokenizer("kim")("这部电影非常好看！") == []


# ---- versions: models saved before CJK support tokenise as they were trained ----

def test_version_1_keeps_an_unspaced_clause_as_one_token():
    old = Tokenizer("unicode", True, 1)
    assert old("这部电影非常好看，我爱NLP2024！") == ["这部电影非常好看", "，", "我爱nlp2024", "！"]
    assert old.version == 1 and Tokenizer().version == TOKENIZER_VERSION == 2
    assert Tokenizer("kim", version=1)("It's 好 good") == Tokenizer("kim")("It's 好 good") == ["it", "'s", "good"]


@pytest.mark.parametrize("name", ["jieba", "char"])
def test_the_new_tokenizers_do_not_exist_in_version_1(name):
    with pytest.raises(ConfigError, match=f"'{name}' tokenizer is new in tokenizer version 2"):
        Tokenizer(name, version=1)


@pytest.mark.parametrize("version", [0, 3, True, "2"])
def test_an_unknown_version_is_a_config_error(version):
    with pytest.raises(ConfigError, match="tokenizer version must be one of 1, 2"):
        Tokenizer("unicode", version=version)
    with pytest.raises(ConfigError, match="tokenizer_version must be one of 1, 2"):
        DataConfig(tokenizer_version=version)


@pytest.mark.parametrize(("name", "version"), [("unicode", 1), ("unicode", 2), ("char", 2), ("jieba", 2)])
@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_nothing_but_spaces_is_ever_dropped(name, version, text):
    if name == "jieba":
        pytest.importorskip("jieba")
    tokens = Tokenizer(name, lowercase=False, version=version)(text)
    assert all(t and not any(c.isspace() for c in t) for t in tokens)
    assert "".join(tokens) == "".join(c for c in text if not c.isspace())


# ---- char ----

def test_char_is_one_token_per_character_of_every_script():
    assert Tokenizer("char")("Hi 你好, น้ำ!") == ["h", "i", "你", "好", ",", "น้ำ", "!"]
    assert Tokenizer("char", lowercase=False)("Ab c") == ["A", "b", "c"]


# ---- jieba ----

def test_jieba_segments_chinese_words():
    pytest.importorskip("jieba")
    tokens = Tokenizer("jieba")("我爱北京天安门")
    assert "北京" in tokens and "天安门" in tokens and "".join(tokens) == "我爱北京天安门"


def test_jieba_lowercases_latin_words_as_unicode_does_and_drops_spaces():
    pytest.importorskip("jieba")
    tokens = Tokenizer("jieba")("我爱NLP2024！ Don't  Stop 👍🏽")
    assert tokens == ["我", "爱", "nlp2024", "！", "don't", "stop", "👍🏽"]


def test_jieba_missing_is_a_config_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)  # `import jieba` now raises ImportError
    with pytest.raises(ConfigError, match=r'needs the jieba package.*pip install "textcnn\[zh\]".*-e "\.\[zh\]"'):
        Tokenizer("jieba")
    with pytest.raises(ConfigError, match="jieba package"):
        TextCNNClassifier(tokenizer="jieba", epochs=1).fit(["我爱北京", "我恨北京"], ["pos", "neg"])


_FRESH_JIEBA = """
import sys
from textcnn.data.tokenizer import Tokenizer
Tokenizer("unicode")("这部电影非常好看")
print("jieba" in sys.modules)
print(Tokenizer("jieba")("我爱北京天安门"))
"""


def test_jieba_is_imported_only_when_used_and_its_start_up_messages_are_silenced():
    pytest.importorskip("jieba")
    proc = subprocess.run([sys.executable, "-c", _FRESH_JIEBA], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "False"  # the unicode tokenizer did not import it
    assert "北京" in proc.stdout
    assert proc.stderr == ""  # no "Building prefix dict from the default dictionary ..."


# ---- kim on mostly Chinese or Japanese text ----

def test_kim_on_mostly_cjk_texts_warns_and_names_unicode_and_jieba():
    texts = ["这部电影非常好看", "质量很好，非常满意", "a fine film"]
    message = kim_on_cjk_warning(Tokenizer("kim"), texts)
    assert message and "'unicode'" in message and "'jieba'" in message and "'kim'" in message
    assert kim_on_cjk_warning(Tokenizer("kim-sst"), texts)
    assert kim_on_cjk_warning(Tokenizer("unicode"), texts) is None
    assert kim_on_cjk_warning(Tokenizer("kim"), ["a fine film", "a dull film 好"]) is None
    assert kim_on_cjk_warning(Tokenizer("kim"), []) is None


def test_the_cjk_check_looks_at_an_evenly_spaced_sample():
    assert list(cjk_sample(5)) == [0, 1, 2, 3, 4]
    sample = cjk_sample(10_000)
    assert len(sample) == 1000 and sample[-1] == 9990
    english_then_chinese = ["a fine film"] * 5000 + ["这部电影非常好看"] * 5000
    assert kim_on_cjk_warning(Tokenizer("kim"), english_then_chinese) is None  # not only the first rows


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
