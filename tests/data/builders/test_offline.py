"""offline.hash_split: a key's split is fixed by its hash, in the proportions asked for."""
import collections

import pytest

from lm_jax.data.builders import offline


def test_hash_split_is_stable_and_proportional():
  keys = [f'key {i}' for i in range(20_000)]
  counts = collections.Counter(offline.hash_split(k, offline.TRAIN_VALIDATION_TEST) for k in keys)
  assert [offline.hash_split(k, offline.TRAIN_VALIDATION_TEST) for k in keys[:50]] == \
      [offline.hash_split(k, offline.TRAIN_VALIDATION_TEST) for k in keys[:50]]
  for split, percent in offline.TRAIN_VALIDATION_TEST.items():
    assert counts[split] / len(keys) == pytest.approx(percent / 100, abs=0.01)
  # Moving 10 points from train to validation only moves keys from train to validation.
  wider = {'train': 70, 'validation': 20, 'test': 10}
  moved = [(offline.hash_split(k, offline.TRAIN_VALIDATION_TEST), offline.hash_split(k, wider))
           for k in keys]
  assert {pair for pair in moved if pair[0] != pair[1]} == {('train', 'validation')}


def test_hash_split_rejects_percentages_that_do_not_sum_to_100():
  with pytest.raises(ValueError, match='sum to 100'):
    offline.hash_split('x', {'train': 90, 'validation': 5})
