import json

import numpy as np
import pytest

from lm_jax.data import pipeline, span_corruption
from lm_jax.data import sources
from lm_jax.data import tokenizer as tokenizer_lib

KEYS = ('encoder_input_tokens', 'decoder_input_tokens', 'decoder_target_tokens',
        'decoder_loss_weights')


def take(iterator, n):
  return [next(iterator) for _ in range(n)]


def assert_batches_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    for key in KEYS:
      np.testing.assert_array_equal(x[key], y[key])


def test_batch_from_examples_layout():
  examples = [([5, 6, 7], [8, 9]), (list(range(3, 20)), list(range(3, 9)))]
  batch = pipeline.batch_from_examples(examples, inputs_length=8, targets_length=4, eos_id=1)
  assert set(batch) == set(KEYS)
  assert batch['encoder_input_tokens'].tolist()[0] == [5, 6, 7, 1, 0, 0, 0, 0]
  assert batch['decoder_target_tokens'].tolist() == [[8, 9, 1, 0], [3, 4, 5, 6]]  # trimmed: no EOS
  assert batch['decoder_input_tokens'].tolist() == [[0, 8, 9, 1], [0, 3, 4, 5]]
  assert batch['decoder_loss_weights'].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
  assert batch['encoder_input_tokens'].tolist()[1] == list(range(3, 11))


def test_train_batches(make_data_config, tokenizer):
  config = make_data_config()
  batch = next(pipeline.make_train_iterator(config, tokenizer, batch_size=4, seed=0))
  assert batch['encoder_input_tokens'].shape == (4, 512)
  for key in KEYS[1:]:
    assert batch[key].shape == (4, 114)
  for key in KEYS[:3]:
    assert batch[key].dtype == np.int32
  assert batch['decoder_loss_weights'].dtype == np.float32
  targets = batch['decoder_target_tokens']
  np.testing.assert_array_equal(batch['decoder_input_tokens'][:, 1:], targets[:, :-1])
  assert (batch['decoder_input_tokens'][:, 0] == 0).all()
  np.testing.assert_array_equal(batch['decoder_loss_weights'], targets != 0)
  # Full chunks fill the inputs exactly (T5's lengths) and end with EOS.
  assert (batch['encoder_input_tokens'][:, -1] == tokenizer.eos_id).all()
  assert (targets == tokenizer.sentinel_id(0))[:, 0].all()


def small_iterator(tokenizer, make_data_config, source, seed=5, **kwargs):
  config = make_data_config(inputs_length=64, targets_length=16)
  return pipeline.SpanCorruptionIterator(source, tokenizer, config, batch_size=3, seed=seed,
                                         **kwargs)


def test_resume_mid_epoch_and_across_epochs(tokenizer, make_data_config):
  source = list(sources.load_text_source(make_data_config(), 'validation'))[:12]
  original = small_iterator(tokenizer, make_data_config, source)
  states = []
  for _ in range(40):
    states.append(json.loads(json.dumps(original.get_state())))
    next(original)
  assert states[-1]['epoch'] >= 2  # crossed epoch boundaries
  assert any(s['carry_tokens'] for s in states)
  reference = small_iterator(tokenizer, make_data_config, source)
  reference_batches = take(reference, 45)
  for step in (0, 7, 23, 39):
    resumed = small_iterator(tokenizer, make_data_config, source)
    resumed.set_state(states[step])
    assert_batches_equal(take(resumed, 45 - step), reference_batches[step:])


def test_seed_and_shuffle(tokenizer, make_data_config):
  source = list(sources.load_text_source(make_data_config(), 'validation'))[:12]
  a = take(small_iterator(tokenizer, make_data_config, source), 3)
  b = small_iterator(tokenizer, make_data_config, source, seed=6)
  assert not np.array_equal(a[0]['encoder_input_tokens'], next(b)['encoder_input_tokens'])
  unshuffled = small_iterator(tokenizer, make_data_config, source, shuffle=False)
  first = merged_tokens(next(unshuffled), tokenizer)[0]
  stream = [t for text in source for t in tokenizer.encode(text)]
  assert first == stream[:len(first)]


def merged_tokens(batch, tokenizer):
  """Raw chunks rebuilt from each row's inputs and targets."""
  first_sentinel = tokenizer.sp_vocab_size
  chunks = []
  for inputs, targets, weights in zip(batch['encoder_input_tokens'], batch['decoder_target_tokens'],
                                      batch['decoder_loss_weights']):
    if not weights.any():
      chunks.append(None)
      continue
    inputs = inputs[:np.flatnonzero(inputs != 0).max() + 1][:-1]  # drop padding, EOS
    targets = targets[:np.flatnonzero(targets != 0).max() + 1][:-1]
    chunk = span_corruption.merge_spans(inputs, targets, first_sentinel)
    chunks.append(chunk)
  return chunks


def test_eval_iterator_covers_every_document_once(tokenizer, make_data_config):
  config = make_data_config()
  batch_size = 8
  iterator = pipeline.make_eval_iterator(config, tokenizer, batch_size=batch_size, seed=0)
  batches = list(iterator)
  assert next(iterator, None) is None
  source = sources.load_text_source(config, 'validation')
  stream = [t for text in source for t in tokenizer.encode(text)]
  chunks = [c for b in batches for c in merged_tokens(b, tokenizer)]
  real = [c for c in chunks if c is not None]
  assert [t for c in real for t in c] == stream
  assert len(batches) == -(-len(real) // batch_size)
  last = batches[-1]
  padding_rows = batch_size - (len(real) - (len(batches) - 1) * batch_size)
  assert padding_rows > 0  # this config leaves a partial last batch to check
  for key in KEYS:
    assert last[key].shape[0] == batch_size
    assert not last[key][batch_size - padding_rows:].any()


def test_construction_validates(tokenizer, make_data_config):
  source = ['some text ' * 20]
  with pytest.raises(ValueError, match='inputs_length'):
    pipeline.SpanCorruptionIterator(source, tokenizer, make_data_config(inputs_length=0), 2, 0)
  few_sentinels = tokenizer_lib.load(tokenizer.path, num_extra_ids=5)
  with pytest.raises(ValueError, match='num_extra_ids'):
    pipeline.SpanCorruptionIterator(source, few_sentinels, make_data_config(), 2, 0)
  with pytest.raises(ValueError, match='targets_length=29'):
    pipeline.SpanCorruptionIterator(source, tokenizer,
                                    make_data_config(inputs_length=128, targets_length=20), 2, 0)
  with pytest.raises(ValueError, match='empty'):
    pipeline.SpanCorruptionIterator([], tokenizer, make_data_config(), 2, 0)
