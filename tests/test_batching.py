import pytest
import torch

from textcnn.batching import length_buckets, pad_batch

# ------------------------------------------------------------------ length_buckets and pad_batch


SKEWED = [1] * 40 + [50] * 10 + list(range(2, 30))  # many short, a few long sentences


def padding_waste(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_length_buckets_cover_every_index_once(bucket, shuffle):
    batches = length_buckets(
        SKEWED, 8, shuffle=shuffle, generator=torch.Generator().manual_seed(0), bucket_by_length=bucket
    )
    assert sorted(i for b in batches for i in b) == list(range(len(SKEWED)))
    assert all(1 <= len(b) <= 8 for b in batches)
    assert sum(len(b) == 8 for b in batches) == len(SKEWED) // 8


def test_length_buckets_reduce_padding():
    gen = torch.Generator().manual_seed(0)
    bucketed = length_buckets(SKEWED, 8, shuffle=True, generator=gen)
    plain = length_buckets(
        SKEWED, 8, shuffle=True, generator=torch.Generator().manual_seed(0), bucket_by_length=False
    )
    assert padding_waste(bucketed, SKEWED) < padding_waste(plain, SKEWED)


def test_length_buckets_deterministic_per_seed():
    def run(seed):
        return length_buckets(SKEWED, 8, shuffle=True, generator=torch.Generator().manual_seed(seed))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_length_buckets_sequential_without_shuffle():
    assert length_buckets([5, 1, 3, 1], 2, shuffle=False, bucket_by_length=False) == [[0, 1], [2, 3]]
    assert length_buckets([5, 1, 3, 1], 2, shuffle=False) == [[1, 3], [2, 0]]


def test_pad_batch_shapes_and_values():
    ids, lengths = pad_batch([[5, 6, 7], [8], []], pad_id=0)
    assert ids.dtype == lengths.dtype == torch.long
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert lengths.tolist() == [3, 1, 0]
    assert pad_batch([[2]], pad_id=9)[0].tolist() == [[2]]
    assert pad_batch([[1, 2], [3]], pad_id=9)[0].tolist() == [[1, 2], [3, 9]]


def test_pad_batch_all_empty_gives_length_one():
    ids, lengths = pad_batch([[], []], pad_id=0)
    assert ids.shape == (2, 1)
    assert ids.tolist() == [[0], [0]]
    assert lengths.tolist() == [0, 0]
