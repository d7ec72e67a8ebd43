import numpy as np
import pytest

from lm_jax.data import packing

EOS = 1


def test_segments_start_after_each_eos():
  tokens = [5, 6, EOS, 7, EOS, 8, 9, 10]
  assert packing.segment_ids_after_eos(tokens, EOS).tolist() == [1, 1, 1, 2, 2, 3, 3, 3]
  # EOS ends a segment; it does not start one.
  assert packing.segment_ids_after_eos([5, 6, EOS], EOS).tolist() == [1, 1, 1]


def test_shift_and_positions_restart_per_segment():
  targets = np.array([5, 6, EOS, 7, EOS, 8, 0, 0])
  segments = np.array([1, 1, 1, 2, 2, 3, 0, 0])
  assert packing.shift_right_within_segments(targets, segments).tolist() == \
      [0, 5, 6, 0, 7, 0, 0, 0]
  assert packing.positions_within_segments(segments).tolist() == [0, 1, 2, 0, 1, 0, 0, 0]
  # Works along the last axis of a batch too.
  batch = np.stack([segments, [1, 1, 2, 2, 2, 2, 2, 0]])
  assert packing.positions_within_segments(batch)[1].tolist() == [0, 1, 0, 1, 2, 3, 4, 0]


def test_packed_decoder_row():
  row = packing.packed_decoder_row([5, 6, EOS, 7, 8], EOS)
  assert row['decoder_target_tokens'].tolist() == [5, 6, EOS, 7, 8]
  assert row['decoder_input_tokens'].tolist() == [0, 5, 6, 0, 7]
  assert row['decoder_segment_ids'].tolist() == [1, 1, 1, 2, 2]
  assert row['decoder_positions'].tolist() == [0, 1, 2, 0, 1]
  assert row['decoder_loss_weights'].tolist() == [1, 1, 1, 1, 1]
  shapes = packing.packed_decoder_shapes(batch_size=2, length=7)
  assert set(row) == set(shapes)
  for key, value in row.items():
    assert value.dtype == shapes[key][1], key


def test_pad_rows_fills_zeros_and_checks_keys():
  shapes = packing.packed_decoder_shapes(batch_size=3, length=6)
  rows = [packing.packed_decoder_row([5, EOS, 7], EOS)]
  batch = packing.pad_rows(rows, shapes)
  for key, (shape, dtype) in shapes.items():
    assert batch[key].shape == shape and batch[key].dtype == dtype
    assert not batch[key][0, 3:].any() and not batch[key][1:].any()
  assert batch['decoder_segment_ids'][0].tolist() == [1, 1, 2, 0, 0, 0]
  with pytest.raises(ValueError, match='keys'):
    packing.pad_rows([{'decoder_target_tokens': np.ones(2)}], shapes)
  with pytest.raises(ValueError):
    packing.pad_rows([packing.packed_decoder_row(list(range(3, 10)), EOS)], shapes)  # too long


def test_batch_from_examples_layout():
  examples = [([5, 6, 7], [8, 9]), (list(range(3, 20)), list(range(3, 9)))]
  batch = packing.batch_from_examples(examples, inputs_length=8, targets_length=4, eos_id=EOS)
  assert set(batch) == {'encoder_input_tokens', 'decoder_input_tokens', 'decoder_target_tokens',
                        'decoder_loss_weights'}
  assert batch['encoder_input_tokens'].tolist()[0] == [5, 6, 7, EOS, 0, 0, 0, 0]
  assert batch['decoder_target_tokens'].tolist() == [[8, 9, EOS, 0], [3, 4, 5, 6]]  # no EOS
  assert batch['decoder_input_tokens'].tolist() == [[0, 8, 9, EOS], [0, 3, 4, 5]]
  assert batch['decoder_loss_weights'].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
  assert batch['encoder_input_tokens'].tolist()[1] == list(range(3, 11))


def test_encoder_decoder_row_matches_batch_from_examples():
  examples = [([5, 6, 7], [8, 9]), (list(range(3, 20)), list(range(3, 9)))]
  batch = packing.batch_from_examples(examples, inputs_length=8, targets_length=4, eos_id=EOS)
  row = packing.encoder_decoder_row(*examples[0], inputs_length=8, targets_length=4, eos_id=EOS)
  assert row['encoder_input_tokens'].tolist() == [5, 6, 7, EOS]  # unpadded
  # Shifted from the padded targets, as T5X: the EOS still feeds the first pad position.
  assert row['decoder_input_tokens'].tolist() == [0, 8, 9, EOS]
  for key, value in row.items():
    np.testing.assert_array_equal(batch[key][0, :len(value)], value)


def test_packed_encoder_decoder_row():
  rows = [packing.encoder_decoder_row([5, 6], [7], inputs_length=8, targets_length=4,
                                      eos_id=EOS),
          packing.encoder_decoder_row([8], [9, 10], inputs_length=8, targets_length=4,
                                      eos_id=EOS)]
  row = packing.packed_encoder_decoder_row(rows)
  assert row['encoder_input_tokens'].tolist() == [5, 6, EOS, 8, EOS]
  assert row['encoder_segment_ids'].tolist() == [1, 1, 1, 2, 2]
  assert row['encoder_positions'].tolist() == [0, 1, 2, 0, 1]
  assert row['decoder_target_tokens'].tolist() == [7, EOS, 9, 10, EOS]
  # Each segment starts decoding from 0 and never sees the previous segment's EOS.
  assert row['decoder_input_tokens'].tolist() == [0, 7, 0, 9, 10]
  assert row['decoder_segment_ids'].tolist() == [1, 1, 2, 2, 2]
  assert row['decoder_positions'].tolist() == [0, 1, 0, 1, 2]
  assert row['decoder_loss_weights'].tolist() == [1] * 5
  shapes = packing.packed_encoder_decoder_shapes(batch_size=2, inputs_length=8,
                                                 targets_length=6)
  assert set(row) == set(shapes)
  for key, value in row.items():
    assert value.dtype == shapes[key][1], key


def test_rows_pad_with_the_tokenizers_pad_id_and_score_id_zero():
  """GPT-2's pad is its EOS (here 9) and its id 0 a word: padding is written with the pad id,
  decoding starts from it, and a target 0 is scored like any other."""
  row = packing.encoder_decoder_row([4, 0], [0, 5], 4, 4, eos_id=9, pad_id=9)
  np.testing.assert_array_equal(row['decoder_input_tokens'], [9, 0, 5, 9])  # one past: packing
  np.testing.assert_array_equal(row['decoder_loss_weights'], [1, 1, 1])
  batch = packing.pad_rows([row], packing.encoder_decoder_shapes(2, 4, 4), pad_id=9)
  np.testing.assert_array_equal(batch['encoder_input_tokens'], [[4, 0, 9, 9], [9, 9, 9, 9]])
  np.testing.assert_array_equal(batch['decoder_loss_weights'], [[1, 1, 1, 0], [0, 0, 0, 0]])
  decoder = packing.packed_decoder_row([3, 9, 0, 9], eos_id=9, pad_id=9)
  np.testing.assert_array_equal(decoder['decoder_input_tokens'], [9, 3, 9, 0])
