"""Tests for textcnn.data.embeddings: streaming loaders, embedding matrix, coverage, word2vec training."""

from __future__ import annotations

import gc
import gzip
import math
import struct
import warnings

import gensim.downloader
import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors
from gensim.test.utils import datapath

from textcnn.base.errors import ConfigError, DataError, VectorsError
from textcnn.data.embeddings import (
    OOV_RANGE,
    Coverage,
    build_embedding_matrix,
    load_vectors,
    save_vectors,
    train_word2vec,
)

WORDS = ["the", "of", "Paris", "paris", "café", "and", "to", "a", "in", "is"]


def make_vectors(words: list[str], dim: int = 4, seed: int = 0) -> KeyedVectors:
    """KeyedVectors with normal(0, 1) float32 rows, one per word."""
    vectors = KeyedVectors(vector_size=dim)
    rng = np.random.default_rng(seed)
    vectors.add_vectors(words, rng.standard_normal((len(words), dim)).astype(np.float32))
    return vectors


def gensim_full_load(path: str, binary: bool = False, no_header: bool = False) -> KeyedVectors:
    """gensim's own whole-file reader, the reference our streaming readers must match."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # gensim 4.4 leaves a file open with no_header
        vectors = KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header)
        gc.collect()
    return vectors


def assert_same_rows(ours: KeyedVectors, reference: KeyedVectors, keys: list[str]) -> None:
    for key in keys:
        np.testing.assert_array_equal(ours[key], reference[key], err_msg=key)


@pytest.fixture
def kv() -> KeyedVectors:
    return make_vectors(WORDS)


@pytest.fixture(params=["glove", "w2v-bin-shipped", "vec-shipped", "w2v-bin", "w2v-text", "w2v-text-gz"])
def vectors_file(request, tmp_path, kv) -> tuple[str, KeyedVectors]:
    """(path, gensim's own full load of that path) for every text and binary format we stream."""
    shipped = {
        "glove": ("test_glove.txt", False, True),
        "w2v-bin-shipped": ("euclidean_vectors.bin", True, False),
        "vec-shipped": ("toy-model.vec", False, False),
    }
    if request.param in shipped:
        name, binary, no_header = shipped[request.param]
        path = datapath(name)
        return path, gensim_full_load(path, binary, no_header)
    binary = request.param == "w2v-bin"
    suffix = {"w2v-bin": "bin", "w2v-text": "vec", "w2v-text-gz": "txt.gz"}[request.param]
    path = str(tmp_path / f"vectors.{suffix}")
    kv.save_word2vec_format(path, binary=binary)
    return path, gensim_full_load(path, binary)


# ---------------------------------------------------------------------------------------- loading


def test_streaming_reader_matches_gensim_full_load(vectors_file):
    path, reference = vectors_file
    ours = load_vectors(path)
    assert ours.index_to_key == reference.index_to_key
    assert ours.vector_size == reference.vector_size
    assert ours.vectors.dtype == np.float32
    assert_same_rows(ours, reference, reference.index_to_key)


def test_words_filter_keeps_only_requested_words_with_same_values(vectors_file):
    path, reference = vectors_file
    wanted = reference.index_to_key[1:4]
    ours = load_vectors(path, words=[*wanted, "not-in-file"])
    assert sorted(ours.index_to_key) == sorted(wanted)
    assert_same_rows(ours, reference, wanted)


def test_words_filter_also_keeps_lowercase_forms():
    reference = gensim_full_load(datapath("test_glove.txt"), no_header=True)
    ours = load_vectors(datapath("test_glove.txt"), words=["The", "OF"])
    assert sorted(ours.index_to_key) == ["of", "the"]
    assert_same_rows(ours, reference, ["of", "the"])


def test_native_kv_file_loads_memory_mapped(tmp_path, kv):
    path = tmp_path / "vectors.kv"
    kv.save(str(path), sep_limit=0)  # store the array beside the pickle, as big vectors are
    ours = load_vectors(path)
    assert ours.index_to_key == kv.index_to_key
    assert isinstance(ours.vectors, np.memmap)
    assert_same_rows(ours, kv, WORDS)


def test_keyed_vectors_object_passes_through(kv):
    assert load_vectors(kv) is kv
    assert load_vectors(kv, words=["the"]) is kv


def test_first_occurrence_of_a_duplicated_word_wins(tmp_path):
    path = tmp_path / "dup.txt"
    path.write_text("cat 1 2\ndog 3 4\ncat 5 6\n")
    ours = load_vectors(path)
    assert ours.index_to_key == ["cat", "dog"]
    np.testing.assert_array_equal(ours["cat"], [1, 2])
    np.testing.assert_array_equal(load_vectors(path, words=["cat"])["cat"], [1, 2])


def test_binary_with_newline_after_each_vector_latin1_word_and_duplicate(tmp_path):
    # The original word2vec C tool writes a newline after each vector; old files hold latin-1 words.
    rows = [("naïve".encode("latin-1"), [1.0, -2.0]), (b"plain", [0.5, 0.25]), (b"plain", [9.0, 9.0])]
    body = b"".join(word + b" " + struct.pack("<2f", *values) + b"\n" for word, values in rows)
    path = tmp_path / "c-tool.bin"
    path.write_bytes(b"3 2\n" + body)
    ours = load_vectors(path)
    assert ours.index_to_key == ["naïve", "plain"]
    np.testing.assert_array_equal(ours["naïve"], [1.0, -2.0])
    np.testing.assert_array_equal(ours["plain"], [0.5, 0.25])


def test_memory_follows_kept_words_not_file_size(tmp_path):
    words = [f"w{i}" for i in range(20_000)]
    path = tmp_path / "big.bin"
    make_vectors(words, dim=8).save_word2vec_format(str(path), binary=True)
    ours = load_vectors(path, words=["w7", "W19999", "absent"])
    assert sorted(ours.index_to_key) == ["w19999", "w7"]
    assert ours.vectors.shape == (2, 8)


def test_gensim_data_prefix_routes_to_downloader(monkeypatch, kv):
    asked = []
    monkeypatch.setattr(gensim.downloader, "load", lambda name: asked.append(name) or kv)
    assert load_vectors("gensim-data:glove-wiki-gigaword-50") is kv
    assert asked == ["glove-wiki-gigaword-50"]


def test_failed_download_says_so_and_suggests_a_local_file(monkeypatch):
    def offline(name: str) -> KeyedVectors:
        raise OSError("network is unreachable")

    monkeypatch.setattr(gensim.downloader, "load", offline)
    with pytest.raises(VectorsError, match=r"download of gensim-data model 'nope' failed.*local"):
        load_vectors("gensim-data:nope")


# ------------------------------------------------------------------------------------ load errors


def test_missing_file_names_path_and_accepted_formats(tmp_path):
    missing = tmp_path / "GoogleNews.bin"
    with pytest.raises(VectorsError, match=r"not found: .*GoogleNews\.bin; accepted: gensim \.kv"):
        load_vectors(missing)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("noise.txt", bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "noise.txt"),
        ("noise.bin", bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)), "count dim"),
        ("prose.txt", b"This is not a vectors file.\nIt is prose.\n", "line 1: non-numeric"),
        ("dims.txt", b"a 1 2 3\nb 1 2\n", "line 2: 2 values, expected 3"),
        ("words.vec", b"2 2\na 1 2\nb x y\n", "line 3: non-numeric"),
        ("short.vec", b"3 2\na 1 2\nb 1 2\n", "truncated: the header promises 3 vectors, found 2"),
        ("empty.txt", b"", "empty"),
        ("nowords.txt", b"just-a-word\n", "no vector values"),
        ("noend.bin", b"1 2\n" + b"x" * 70_000, "no end"),
    ],
)
def test_garbage_file_raises_vectors_error_naming_file_and_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(VectorsError, match=problem) as info:
        load_vectors(path, words=["b"])
    assert name in str(info.value)


def test_truncated_binary_raises_vectors_error(tmp_path, kv):
    path = tmp_path / "vectors.bin"
    kv.save_word2vec_format(str(path), binary=True)
    data = path.read_bytes()
    for cut in (len(data) - 3, len(data) - 4 * 4 - 2):  # inside the last vector; inside the last word
        path.write_bytes(data[:cut])
        with pytest.raises(VectorsError, match=r"vectors\.bin is truncated"):
            load_vectors(path)


def test_shipped_truncated_vec_and_fasttext_bin_are_rejected():
    with pytest.raises(VectorsError, match="promises 3 vectors, found 1"):
        load_vectors(datapath("pretrained.vec"))
    with pytest.raises(VectorsError, match="crime-and-punishment.bin: first line is not 'count dim'"):
        load_vectors(datapath("crime-and-punishment.bin"))


def test_corrupt_kv_file_raises_vectors_error(tmp_path):
    path = tmp_path / "broken.kv"
    path.write_bytes(b"not a pickle")
    with pytest.raises(VectorsError, match=r"broken\.kv is not a gensim KeyedVectors"):
        load_vectors(path)


# ---------------------------------------------------------------------------------------- matrix


def test_rows_come_from_vectors_with_lowercase_fallback_pad_zero():
    vectors = make_vectors(["paris", "the"])
    itos = ["<pad>", "<unk>", "Paris", "the", "zzz"]
    matrix, _ = build_embedding_matrix(itos, vectors, 4, generator=torch.Generator().manual_seed(0))
    assert matrix.dtype == torch.float32 and matrix.shape == (5, 4)
    assert torch.equal(matrix[0], torch.zeros(4))
    assert torch.equal(matrix[2], torch.tensor(vectors["paris"]))
    assert torch.equal(matrix[3], torch.tensor(vectors["the"]))


def test_exact_word_wins_over_lowercase_form(kv):
    matrix, _ = build_embedding_matrix(["<pad>", "<unk>", "Paris"], kv, 4)
    assert torch.equal(matrix[2], torch.tensor(kv["Paris"]))
    assert not torch.equal(matrix[2], torch.tensor(kv["paris"]))


@pytest.mark.filterwarnings("ignore:low coverage")
def test_oov_and_unk_rows_are_uniform_in_kim_range_and_distinct(kv):
    itos = ["<pad>", "<unk>", "the"] + [f"oov{i}" for i in range(200)]
    matrix, _ = build_embedding_matrix(itos, kv, 4, generator=torch.Generator().manual_seed(0))
    random_rows = torch.cat([matrix[1:2], matrix[3:]])
    assert random_rows.abs().max() <= OOV_RANGE == 0.25
    assert random_rows.abs().max() > 0.2  # spans the range, not a narrower one
    assert len({tuple(row.tolist()) for row in random_rows}) == len(random_rows)
    assert torch.equal(matrix[0], torch.zeros(4))


@pytest.mark.filterwarnings("ignore:low coverage")
def test_same_generator_seed_gives_same_matrix(kv):
    itos = ["<pad>", "<unk>", "the", "oov"]
    first, _ = build_embedding_matrix(itos, kv, 4, generator=torch.Generator().manual_seed(3))
    again, _ = build_embedding_matrix(itos, kv, 4, generator=torch.Generator().manual_seed(3))
    other, _ = build_embedding_matrix(itos, kv, 4, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.filterwarnings("ignore:low coverage")
def test_match_init_has_the_variance_of_the_pretrained_vectors():
    found = [f"w{i}" for i in range(500)]
    vectors = make_vectors(found, dim=50)
    vectors.vectors *= 3.0  # std 3, far from the fixed range
    itos = ["<pad>", "<unk>", *found, *(f"oov{i}" for i in range(500))]
    matrix, _ = build_embedding_matrix(itos, vectors, 50, oov_init="match", generator=torch.Generator().manual_seed(0))
    oov = matrix[2 + len(found) :]
    assert oov.std().item() == pytest.approx(float(vectors.vectors.std()), rel=0.05)
    assert oov.abs().max().item() <= math.sqrt(3) * float(vectors.vectors.std()) * 1.01


def test_match_init_without_any_found_vector_falls_back_to_oov_range(kv):
    with pytest.warns(UserWarning, match="low coverage"):
        matrix, _ = build_embedding_matrix(["<pad>", "<unk>", "zzz"], kv, 4, oov_init="match", oov_range=0.1)
    assert matrix[1:].abs().max() <= 0.1


def test_no_vectors_is_the_rand_variant():
    matrix, coverage = build_embedding_matrix(["<pad>", "<unk>", "a", "b"], None, 3)
    assert torch.equal(matrix[0], torch.zeros(3))
    assert (matrix[1:] != 0).all() and matrix[1:].abs().max() <= 0.25
    assert coverage == Coverage(0, 2, 0, 2)


def test_wrong_vector_size_raises_with_both_sizes(kv):
    with pytest.raises(VectorsError, match="vectors have size 4 but embedding_dim is 300"):
        build_embedding_matrix(["<pad>", "<unk>", "the"], kv, 300)


def test_bad_oov_init_lists_choices(kv):
    with pytest.raises(ConfigError, match="oov_init must be one of uniform, match; got 'normal'"):
        build_embedding_matrix(["<pad>", "<unk>"], kv, 4, oov_init="normal")


# -------------------------------------------------------------------------------------- coverage


def test_coverage_counts_types_and_weights_tokens(kv):
    itos = ["<pad>", "<unk>", "the", "Paris", "zzz", "yyy"]
    counts = {"the": 50, "Paris": 3, "zzz": 40, "yyy": 7, "<unk>": 1000}
    _, coverage = build_embedding_matrix(itos, kv, 4, counts=counts)
    assert coverage == Coverage(types_found=2, types_total=4, tokens_found=53, tokens_total=100)
    assert coverage.types_percent == 50.0 and coverage.tokens_percent == 53.0


def test_coverage_without_counts_counts_each_type_once(kv, caplog):
    caplog.set_level("INFO", logger="textcnn.data.embeddings")
    _, coverage = build_embedding_matrix(["<pad>", "<unk>", "the", "of", "zzz"], kv, 4)
    assert (coverage.tokens_found, coverage.tokens_total) == (2, 3)
    assert str(coverage) in caplog.text


def test_coverage_string_and_empty_totals():
    coverage = Coverage(types_found=1149, types_total=1234, tokens_found=44536, tokens_total=45678)
    expected = "vectors cover 93.1% of 1,234 vocabulary types and 97.5% of 45,678 tokens"
    assert str(coverage) == expected
    assert Coverage(0, 0, 0, 0).types_percent == 0.0 == Coverage(0, 0, 0, 0).tokens_percent


def test_low_type_coverage_warns_but_half_does_not(kv, recwarn):
    build_embedding_matrix(["<pad>", "<unk>", "the", "zzz"], kv, 4)
    assert not [w for w in recwarn if "low coverage" in str(w.message)]
    with pytest.warns(UserWarning, match=r"low coverage: vectors cover 33\.3%"):
        build_embedding_matrix(["<pad>", "<unk>", "the", "zzz", "yyy"], kv, 4)


# Chinese word vectors (e.g. the Chinese-Word-Vectors sgns files) are word2vec text: a "count dim" header, UTF-8
# words, often a space after the last value. Han has no case, so the lowercase fallback must leave it alone.
ZH_VECTORS = "4 3\n非常 0.1 0.2 0.3 \n好看 1 2 3 \n电影 -1 0 1 \nnlp 0.5 0.5 0.5 \n"


def test_chinese_word2vec_text_loads_with_lowercase_fallback_and_coverage(tmp_path, recwarn):
    path = tmp_path / "sgns.zh.txt"
    path.write_text(ZH_VECTORS, encoding="utf-8")
    assert load_vectors(path).index_to_key == ["非常", "好看", "电影", "nlp"]
    itos = ["<pad>", "<unk>", "非常", "好看", "质量", "NLP"]  # 质量 is not in the file; NLP only in lowercase
    vectors = load_vectors(path, words=itos[2:])
    assert vectors.index_to_key == ["非常", "好看", "nlp"]
    np.testing.assert_array_equal(vectors["好看"], [1, 2, 3])
    counts = {"非常": 5, "好看": 3, "质量": 2, "NLP": 1}
    matrix, coverage = build_embedding_matrix(itos, vectors, 3, counts=counts)
    assert torch.equal(matrix[2], torch.tensor([0.1, 0.2, 0.3]))
    assert torch.equal(matrix[3], torch.tensor([1.0, 2.0, 3.0]))
    assert torch.equal(matrix[5], torch.tensor([0.5, 0.5, 0.5]))  # NLP → nlp
    assert matrix[4].abs().max() <= OOV_RANGE  # 质量: random
    assert coverage == Coverage(types_found=3, types_total=4, tokens_found=9, tokens_total=11)
    assert str(coverage) == "vectors cover 75.0% of 4 vocabulary types and 81.8% of 11 tokens"
    assert not [w for w in recwarn if "low coverage" in str(w.message)]
    binary = tmp_path / "sgns.zh.bin"
    vectors.save_word2vec_format(str(binary), binary=True)
    assert load_vectors(binary, words=["好看"]).index_to_key == ["好看"]


def test_word_vectors_over_a_character_vocabulary_warn(tmp_path):
    path = tmp_path / "sgns.zh.txt"
    path.write_text(ZH_VECTORS, encoding="utf-8")
    chars = ["<pad>", "<unk>", "非", "常", "好", "看"]  # what a per-character tokenizer makes of 非常好看
    with pytest.warns(UserWarning, match=r"low coverage: vectors cover 0\.0% of 4 vocabulary types"):
        build_embedding_matrix(chars, load_vectors(path, words=chars[2:]), 3)


# ------------------------------------------------------------------------------ train and save

CORPUS = [
    "the movie was great and the acting was great".split(),
    "the plot was dull and the ending was worse".split(),
    "a great film with a dull start".split(),
] * 10


def test_train_word2vec_is_deterministic_for_a_seed():
    first = train_word2vec(CORPUS, dim=10, seed=1)
    again = train_word2vec(CORPUS, dim=10, seed=1)
    other = train_word2vec(CORPUS, dim=10, seed=2)
    assert first.vector_size == 10 and "great" in first
    np.testing.assert_array_equal(first.vectors, again.vectors)
    assert not np.array_equal(first.vectors, other.vectors)


def test_train_word2vec_is_skip_gram_for_20_epochs_with_centred_vectors():
    ours = train_word2vec(CORPUS, dim=10, seed=1)
    skip_gram_20 = train_word2vec(CORPUS, dim=10, seed=1, skip_gram=True, epochs=20)
    np.testing.assert_array_equal(ours.vectors, skip_gram_20.vectors)
    assert not np.array_equal(ours.vectors, train_word2vec(CORPUS, dim=10, seed=1, skip_gram=False, epochs=5).vectors)
    np.testing.assert_allclose(ours.vectors.mean(axis=0), 0.0, atol=1e-6)  # no direction shared by every word


def test_train_word2vec_without_any_word_raises_data_error():
    with pytest.raises(DataError, match="min_count=5"):
        train_word2vec([["rare"]], dim=10, min_count=5)


def test_save_vectors_round_trips_through_load_vectors(tmp_path, kv):
    path = tmp_path / "run" / "vectors.txt"
    path.parent.mkdir()
    save_vectors(kv, path)
    ours = load_vectors(path)
    assert ours.index_to_key == kv.index_to_key
    assert_same_rows(ours, kv, WORDS)
    with gzip.open(tmp_path / "vectors.txt.gz", "wb") as f:
        f.write(path.read_bytes())
    assert_same_rows(load_vectors(tmp_path / "vectors.txt.gz", words=["café"]), kv, ["café"])


def test_save_vectors_to_missing_directory_raises_vectors_error(tmp_path, kv):
    with pytest.raises(VectorsError, match="cannot write word vectors"):
        save_vectors(kv, tmp_path / "no-such-dir" / "vectors.txt")


# ---- extra vector sets as channels (issue 23) ----
def test_extra_vectors_are_trained_here_or_read_from_a_file(glove_path):
    from textcnn.base.errors import ConfigError
    from textcnn.data.embeddings import resolve_extra_vectors

    tokens = [["a", "good", "film"], ["a", "bad", "film"]] * 5
    words = ["<pad>", "<unk>", "a", "good", "film", "bad", "unseen"]
    subword, size = resolve_extra_vectors("fasttext:8", words, tokens, seed=0, deterministic=True)
    assert size == subword.vector_size == 8 and set(subword.key_to_index) == set(words[2:])  # "unseen" too: its n-grams
    cbow, size = resolve_extra_vectors("word2vec:6", words, tokens, seed=0, deterministic=True)
    assert size == cbow.vector_size == 6 and "unseen" not in cbow.key_to_index
    again, _ = resolve_extra_vectors("word2vec:6", words, tokens, seed=0, deterministic=True)
    np.testing.assert_array_equal(cbow["film"], again["film"])  # one worker and a seed: repeatable
    glove, size = resolve_extra_vectors(glove_path, words, tokens, seed=0, deterministic=True)
    assert size == glove.vector_size == 50 and set(glove.key_to_index) <= set(words)  # only the vocabulary is read
    with pytest.raises(ConfigError, match="trained on the training texts"):
        resolve_extra_vectors("fasttext:8", words, None, seed=0, deterministic=True)


def test_a_rand_extra_channel_has_no_vectors_and_needs_no_training_texts():
    from textcnn.base.errors import VectorsError
    from textcnn.data.embeddings import resolve_extra_vectors

    words = ["<pad>", "<unk>", "film"]
    assert resolve_extra_vectors("rand:12", words, None, seed=0, deterministic=True) == (None, 12)
    with pytest.raises(VectorsError):  # not "rand:DIM": a file name, which must exist
        resolve_extra_vectors("rand.txt", words, None, seed=0, deterministic=True)


def test_the_fill_channel_widens_each_token_to_the_target_or_is_left_out():
    from textcnn.base.config import FILL_CHANNEL
    from textcnn.data.embeddings import fill_channel, resolve_extra_vectors

    words = ["<pad>", "<unk>", "film"]
    assert resolve_extra_vectors(FILL_CHANNEL, words, None, seed=0, deterministic=True) == (None, 0)
    glove, word2vec = object(), object()
    sources = ["glove.txt", FILL_CHANNEL, "word2vec:20"]
    extras = [(glove, 50), (None, 0), (word2vec, 20)]
    # 50-d vectors, 50 + 20 in the other extra channels: 180 more make 300; the order of the channels stays
    assert fill_channel(extras, sources, 50, 300) == [(glove, 50), (None, 180), (word2vec, 20)]
    assert fill_channel(extras, sources, 230, 300) == [(glove, 50), (word2vec, 20)]  # already 300: no channel
    assert fill_channel(extras, sources, 300, 300) == [(glove, 50), (word2vec, 20)]  # wider: none either
    assert fill_channel([(glove, 50)], ["glove.txt"], 50, 300) == [(glove, 50)]  # nothing to fill


def test_extra_vectors_name_the_fill_channel_at_most_once():
    from textcnn.base.config import FILL_CHANNEL, DataConfig
    from textcnn.base.errors import ConfigError

    assert DataConfig(extra_vectors=[FILL_CHANNEL, "rand:5"]).extra_vectors == (FILL_CHANNEL, "rand:5")
    with pytest.raises(ConfigError, match="once"):
        DataConfig(extra_vectors=[FILL_CHANNEL, FILL_CHANNEL])


def test_extra_vectors_must_be_a_list_of_sources():
    from textcnn.base.config import DataConfig
    from textcnn.base.errors import ConfigError

    assert DataConfig(extra_vectors=["word2vec:10"]).extra_vectors == ("word2vec:10",)
    with pytest.raises(ConfigError, match="wrap a single one in a list"):
        DataConfig(extra_vectors="word2vec:10")
