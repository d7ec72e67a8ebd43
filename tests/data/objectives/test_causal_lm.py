import numpy as np
import pytest

from lm_jax.data import objectives, pipeline

LENGTH = 48


def real_rows(batches):
  """(targets, inputs, segment ids, positions, weights) of every row that is not padding."""
  keys = ('decoder_target_tokens', 'decoder_input_tokens', 'decoder_segment_ids',
          'decoder_positions', 'decoder_loss_weights')
  for batch in batches:
    for row in zip(*(batch[key] for key in keys)):
      if row[2].any():
        yield row


def check_packed_row(targets, inputs, segments, positions, weights, eos_id):
  """The T5X packed decoder features that attention masks and the loss rely on."""
  n = int((segments > 0).sum())
  assert (segments[:n] > 0).all(), 'padding only at the end'
  for array in (targets, inputs, segments, positions, weights):
    assert not array[n:].any()
  np.testing.assert_array_equal(weights, segments > 0)
  assert weights.dtype == np.float32
  # Segment ids count up by one from 1, and a segment starts exactly after each EOS.
  assert segments[0] == 1 and set(np.diff(segments[:n])) <= {0, 1}
  starts = np.concatenate([[True], segments[1:n] != segments[:n - 1]])
  np.testing.assert_array_equal(starts[1:], targets[:n - 1] == eos_id)
  # Inputs: 0 (BOS) at each segment start, the previous target elsewhere.
  assert (inputs[:n][starts] == 0).all()
  np.testing.assert_array_equal(inputs[1:n][~starts[1:]], targets[:n - 1][~starts[1:]])
  # Positions restart at 0 with every segment.
  expected = np.zeros(n, np.int64)
  for i in range(1, n):
    expected[i] = 0 if starts[i] else expected[i - 1] + 1
  np.testing.assert_array_equal(positions[:n], expected)
  return n


def documents_from(rows):
  """The token stream of the rows (padding dropped), split after each EOS."""
  stream = np.concatenate([targets[segments > 0] for targets, _, segments, _, _ in rows])
  ends = np.flatnonzero(stream == 1) + 1
  assert ends[-1] == len(stream)
  return [doc.tolist() for doc in np.split(stream, ends[:-1])]


@pytest.mark.parametrize('pack', [True, False])
def test_rows_hold_the_documents_in_order(pack, make_data_config, tokenizer, validation_texts):
  config = make_data_config(objective='causal_lm', targets_length=LENGTH, pack=pack)
  rows = list(real_rows(pipeline.make_eval_iterator(config, tokenizer, 16, seed=0)))
  expected = [tokenizer.encode(text) + [tokenizer.eos_id] for text in validation_texts]
  assert documents_from(rows) == expected
  lengths = [check_packed_row(*row, tokenizer.eos_id) for row in rows]
  if pack:
    # No padding waste: every row but the last is full, and most hold several segments.
    assert all(n == LENGTH for n in lengths[:-1])
    assert np.mean([row[2].max() for row in rows]) > 1.5
  else:
    assert all(row[2].max() == 1 for row in rows)  # one segment per row
    # A document longer than a row is cut into full rows, then its rest.
    assert len(rows) == sum(-(-len(doc) // LENGTH) for doc in expected)


def test_a_document_cut_at_the_row_end_continues_as_a_new_segment(make_data_config, tokenizer):
  text = 'a long document ' * 40
  tokens = tokenizer.encode(text) + [tokenizer.eos_id]
  assert len(tokens) > 2 * LENGTH
  config = make_data_config(objective='causal_lm', targets_length=LENGTH)
  iterator = objectives.get('causal_lm')([text, text], tokenizer, config, 4, seed=0,
                                         shuffle=False, repeat=False)
  rows = list(real_rows(iterator))
  stream = [t for targets, _, segments, _, _ in rows for t in targets[segments > 0]]
  assert stream == tokens + tokens
  targets, inputs, segments, positions, _ = rows[1]  # the middle of the first document
  np.testing.assert_array_equal(targets, tokens[LENGTH:2 * LENGTH])
  assert (segments == 1).all() and inputs[0] == 0 and positions[0] == 0
  # The row where the first document ends holds the start of the second as segment 2.
  boundary = next(row for row in rows if row[2].max() == 2)
  first_of_second = int(np.argmax(boundary[2] == 2))
  assert boundary[0][first_of_second - 1] == tokenizer.eos_id
  assert boundary[1][first_of_second] == 0 and boundary[3][first_of_second] == 0


def test_shuffled_training_rows_are_well_formed(make_data_config, tokenizer):
  config = make_data_config(objective='causal_lm', targets_length=LENGTH)
  iterator = pipeline.make_train_iterator(config, tokenizer, 8, seed=3)
  for _ in range(20):
    for row in real_rows([next(iterator)]):
      assert check_packed_row(*row, tokenizer.eos_id) == LENGTH
