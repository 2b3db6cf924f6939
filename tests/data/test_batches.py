import pytest
import torch

from textcnn.data.batches import TokenBatches, TokenIds, length_buckets, pad_batch

# ------------------------------------------------------------------ length_buckets and pad_batch


SKEWED = [1] * 40 + [50] * 10 + list(range(2, 30))  # many short, a few long sentences


def buckets(*args, **kwargs) -> list[list[int]]:
    return [b.tolist() for b in length_buckets(*args, **kwargs)]


def padding_waste(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_length_buckets_cover_every_index_once(bucket, shuffle):
    batches = buckets(
        SKEWED, 8, shuffle=shuffle, generator=torch.Generator().manual_seed(0), bucket_by_length=bucket
    )
    assert sorted(i for b in batches for i in b) == list(range(len(SKEWED)))
    assert all(1 <= len(b) <= 8 for b in batches)
    assert sum(len(b) == 8 for b in batches) == len(SKEWED) // 8


def test_length_buckets_reduce_padding():
    gen = torch.Generator().manual_seed(0)
    bucketed = buckets(SKEWED, 8, shuffle=True, generator=gen)
    plain = buckets(
        SKEWED, 8, shuffle=True, generator=torch.Generator().manual_seed(0), bucket_by_length=False
    )
    assert padding_waste(bucketed, SKEWED) < padding_waste(plain, SKEWED)


def test_length_buckets_deterministic_per_seed():
    def run(seed):
        return buckets(SKEWED, 8, shuffle=True, generator=torch.Generator().manual_seed(seed))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_length_buckets_sequential_without_shuffle():
    assert buckets([5, 1, 3, 1], 2, shuffle=False, bucket_by_length=False) == [[0, 1], [2, 3]]
    assert buckets([5, 1, 3, 1], 2, shuffle=False) == [[1, 3], [2, 0]]


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


# ------------------------------------------------------------------ TokenIds and TokenBatches

SEQS = [[5, 6, 7], [8], [], [9, 10, 11, 12, 13], [14, 15]]


def test_token_ids_pack_and_gather_like_pad_batch():
    packed = TokenIds.from_lists(SEQS)
    assert packed.flat.dtype == torch.int32
    assert packed.lengths.tolist() == [3, 1, 0, 5, 2]
    rows = torch.tensor([3, 0, 2])
    ids, lengths = packed.gather(rows, longest=5)
    expected_ids, expected_lengths = pad_batch([SEQS[i] for i in rows.tolist()])
    assert torch.equal(ids, expected_ids)
    assert torch.equal(lengths, expected_lengths)


def test_token_ids_of_only_empty_sequences_gather_padding():
    ids, lengths = TokenIds.from_lists([[], []]).gather(torch.tensor([1, 0]), longest=1)
    assert ids.tolist() == [[0], [0]]
    assert lengths.tolist() == [0, 0]


@pytest.mark.parametrize("bucket", [True, False])
def test_token_batches_serve_every_example_once_with_its_label(bucket):
    labels = list(range(len(SEQS)))
    batches = TokenBatches(SEQS, labels, 2, shuffle=True, bucket_by_length=bucket)
    seen = []
    for batch in batches.epoch(torch.Generator().manual_seed(1)):
        ids, lengths = batch.inputs
        assert ids.shape[1] == max(1, int(lengths.max()))  # padding trimmed to the batch's longest row
        for row, i in enumerate(batch.index.tolist()):
            assert ids[row, : lengths[row]].tolist() == SEQS[i]
            assert batch.labels[row].item() == labels[i]
        seen += batch.index.tolist()
    assert sorted(seen) == list(range(len(SEQS)))
    assert len(batches) == 3


def test_token_batches_accept_packed_ids_and_keep_order_without_shuffle():
    batches = TokenBatches(TokenIds.from_lists(SEQS), None, 10, shuffle=False, bucket_by_length=False, device="cpu")
    [batch] = list(batches.epoch(None))
    assert batch.index.tolist() == list(range(len(SEQS)))
    assert batch.labels is None
