import numpy as np
import pytest

from lm_jax.data import pipeline
from lm_jax.data.objectives import prefix_lm

LENGTH = 40
KEYS = ('decoder_target_tokens', 'decoder_input_tokens', 'decoder_causal_attention',
        'decoder_loss_weights', 'decoder_segment_ids', 'decoder_positions')


def test_row_layout():
  row = prefix_lm.prefix_lm_row([5, 6, 7, 8], split=2, eos_id=1)
  assert row['decoder_target_tokens'].tolist() == [5, 6, 7, 8, 1]
  assert row['decoder_input_tokens'].tolist() == [0, 5, 6, 7, 8]
  assert row['decoder_causal_attention'].tolist() == [1, 1, 1, 0, 0]  # BOS + inputs 5, 6
  assert row['decoder_loss_weights'].tolist() == [0, 0, 1, 1, 1]  # targets 7, 8 and EOS
  assert row['decoder_segment_ids'].tolist() == [1] * 5
  assert row['decoder_positions'].tolist() == [0, 1, 2, 3, 4]
  with pytest.raises(ValueError, match='split'):
    prefix_lm.prefix_lm_row([5, 6], split=0, eos_id=1)


def rows_with_splits(batches, eos_id):
  """(row arrays, real length n, split k) of every real row, checking the layout."""
  for batch in batches:
    for row in zip(*(batch[key] for key in KEYS)):
      targets, inputs, causal, weights, segments, positions = row
      n = int((segments > 0).sum())
      if n == 0:
        assert not any(array.any() for array in row)
        continue
      assert (segments[:n] == 1).all() and not segments[n:].any()
      assert targets[n - 1] == eos_id and not targets[n:].any()
      np.testing.assert_array_equal(inputs[:n], np.concatenate([[0], targets[:n - 1]]))
      assert not inputs[n:].any()
      np.testing.assert_array_equal(positions[:n], np.arange(n))
      k = int(causal.sum()) - 1  # BOS + k prefix tokens
      assert causal.dtype == np.int32 and (causal[:k + 1] == 1).all()
      assert 1 <= k and (k <= n - 2 or n == 2)  # a non-empty prefix and continuation
      expected_weights = np.zeros(len(weights), np.float32)
      expected_weights[k:n] = 1.0  # exactly the continuation and the final EOS
      np.testing.assert_array_equal(weights, expected_weights)
      yield row, n, k


def test_rows_split_chunks_of_the_stream(make_data_config, tokenizer, validation_texts):
  config = make_data_config(objective='prefix_lm', targets_length=LENGTH)
  rows = list(rows_with_splits(pipeline.make_eval_iterator(config, tokenizer, 16, seed=0),
                               tokenizer.eos_id))
  # Without their final EOS the rows are consecutive chunks of L-1 tokens of the stream.
  chunks = [row[0][:n - 1].tolist() for row, n, _ in rows]
  assert all(len(chunk) == LENGTH - 1 for chunk in chunks[:-1])
  stream = [t for text in validation_texts for t in tokenizer.encode(text) + [tokenizer.eos_id]]
  assert sum(chunks, []) == stream
  # Split points of full chunks are uniform over 1 .. L-2.
  splits = np.array([k for _, n, k in rows if n == LENGTH])
  values = LENGTH - 2
  sd_of_mean = np.sqrt((values ** 2 - 1) / 12 / len(splits))
  assert abs(splits.mean() - (LENGTH - 1) / 2) < 5 * sd_of_mean
  assert splits.min() == 1 and splits.max() == LENGTH - 2


def test_splits_are_reproducible_and_depend_on_the_seed(make_data_config, tokenizer):
  config = make_data_config(objective='prefix_lm', targets_length=LENGTH)

  def splits(seed):
    batch = next(pipeline.make_train_iterator(config, tokenizer, 32, seed=seed))
    return batch['decoder_causal_attention'].sum(axis=1)

  np.testing.assert_array_equal(splits(1), splits(1))
  assert not np.array_equal(splits(1), splits(2))
  assert len(set(splits(1).tolist())) > 10
