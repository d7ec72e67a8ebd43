"""T5 span corruption: the noise mask and corruption against T5's statistics and lengths, then
the iterator's construction errors."""

import numpy as np
import pytest

from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.data.objectives import span_corruption

TOP = 32099  # <extra_id_0> of a T5 vocabulary of 32100


def merge(inputs, targets):
  return span_corruption.merge_spans(inputs, targets, lowest_sentinel_id=TOP - 99)


def corrupt(tokens, seed):
  return span_corruption.span_corrupt(tokens, np.random.default_rng(seed), noise_density=0.15,
                                      mean_noise_span_length=3.0, sentinel_id=TOP)


@pytest.mark.parametrize('length', [1, 2, 5, 37, 568])
def test_merging_inputs_and_targets_reconstructs_the_chunk(length):
  tokens = np.random.default_rng(length).integers(3, 30000, size=length)
  for seed in range(20):
    inputs, targets = corrupt(tokens, seed)
    assert merge(inputs, targets) == tokens.tolist()


def test_sentinels_descend_from_the_top():
  inputs, targets = corrupt(np.arange(3, 571), 0)
  in_sentinels = inputs[inputs > TOP - 100]
  out_sentinels = targets[targets > TOP - 100]
  assert in_sentinels.tolist() == list(range(TOP, TOP - len(in_sentinels), -1))
  assert out_sentinels.tolist() == in_sentinels.tolist()  # spans end with noise
  assert targets[0] == TOP


def test_noise_statistics_match_the_paper():
  rng = np.random.default_rng(0)
  masks = [span_corruption.random_spans_noise_mask(568, 0.15, 3.0, rng) for _ in range(500)]
  assert abs(np.mean(masks) - 0.15) < 0.01
  span_lengths = []
  for mask in masks:
    assert not mask[0]  # starts with non-noise
    starts = np.flatnonzero(mask & ~np.concatenate([[False], mask[:-1]]))
    span_lengths.append(mask.sum() / len(starts))
  assert abs(np.mean(span_lengths) - 3.0) < 0.1


def test_lengths_match_t5_random_spans_helper():
  assert span_corruption.span_corruption_lengths(512, 0.15, 3.0) == (568, 114)
  for seed in range(50):
    inputs, targets = corrupt(np.arange(3, 3 + 568), seed)
    assert len(inputs) + 1 == 512 and len(targets) + 1 == 114  # + EOS


def test_corruption_depends_only_on_the_rng():
  tokens = np.arange(3, 200)
  a, b = corrupt(tokens, 7), corrupt(tokens, 7)
  assert all(np.array_equal(x, y) for x, y in zip(a, b))
  assert not np.array_equal(corrupt(tokens, 8)[0], a[0])


def test_construction_validates(tokenizer, make_data_config):
  source = ['some text ' * 20]
  iterator = span_corruption.SpanCorruptionIterator
  with pytest.raises(ValueError, match='inputs_length'):
    iterator(source, tokenizer, make_data_config(inputs_length=0), 2, 0)
  few_sentinels = tokenizer_lib.load(tokenizer.path, num_extra_ids=5)
  with pytest.raises(ValueError, match='num_extra_ids'):
    iterator(source, few_sentinels, make_data_config(), 2, 0)
  with pytest.raises(ValueError, match='targets_length=29'):
    iterator(source, tokenizer, make_data_config(inputs_length=128, targets_length=20), 2, 0)
  with pytest.raises(ValueError, match='empty'):
    iterator([], tokenizer, make_data_config(), 2, 0)
