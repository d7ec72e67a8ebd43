import json

import numpy as np
import pytest

from lm_jax import families
from lm_jax.data import pipeline
from lm_jax.data import sources
from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.data.objectives import span_corruption

KEYS = ('encoder_input_tokens', 'decoder_input_tokens', 'decoder_target_tokens',
        'decoder_loss_weights')


def take(iterator, n):
  return [next(iterator) for _ in range(n)]


def assert_batches_equal(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    for key in KEYS:
      np.testing.assert_array_equal(x[key], y[key])


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
  return span_corruption.SpanCorruptionIterator(source, tokenizer, config, batch_size=3,
                                                seed=seed, **kwargs)


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


# Downstream tasks (config.data.task): dispatch to lm_jax/data/tasks/task_iterator.py.

def fake_task_records(monkeypatch, records_by_split):
  def load_records(data_config, split, dataset=None, **kwargs):
    return records_by_split[split]
  monkeypatch.setattr(sources, 'load_records', load_records)


TRANSLATIONS = {
    'train': [{'source': f'Message {i}', 'target': f'Nachricht {i}'} for i in range(10)],
    'validation': [{'source': f'Word {i}', 'target': f'Wort {i}'} for i in range(5)],
}


def test_batch_shapes_dispatch_on_the_task(make_data_config):
  from lm_jax.data.tasks import task_iterator
  config = make_data_config(task='translate_en_de', inputs_length=24, targets_length=8)
  for family in families.TASK_FAMILIES[:2]:
    assert pipeline.batch_shapes(config, 2, family=family) == task_iterator.batch_shapes(
        family, config, 2)
  with pytest.raises(ValueError, match=r"task='translate_en_de'.*pass `family=`"):
    pipeline.batch_shapes(config, 2)
  with pytest.raises(ValueError, match='classification head needs a classification task'):
    pipeline.batch_shapes(config, 2, family='encoder_classifier')
  # Without a task the objective decides; `family` is not used.
  pretraining = make_data_config(inputs_length=24, targets_length=8)
  assert pipeline.batch_shapes(pretraining, 2, family='decoder_only') == pipeline.batch_shapes(
      pretraining, 2)
  assert 'encoder_input_tokens' in pipeline.batch_shapes(pretraining, 2)


def test_task_iterators(monkeypatch, make_data_config, tokenizer):
  from lm_jax.data.tasks import task_iterator
  fake_task_records(monkeypatch, TRANSLATIONS)
  config = make_data_config(task='translate_en_de', inputs_length=24, targets_length=8)
  examples = pipeline.task_examples(config, 'validation')
  assert [e.inputs for e in examples] == [f'translate English to German: Word {i}'
                                          for i in range(5)]
  assert [e.references for e in examples] == [(f'Wort {i}',) for i in range(5)]

  eval_iter = pipeline.make_eval_iterator(config, tokenizer, 4, seed=0, family='decoder_only')
  assert isinstance(eval_iter, task_iterator.TaskIterator)
  batches = list(eval_iter)
  assert len(batches) == 2 and batches[0]['decoder_target_tokens'].shape == (4, 32)
  prompts = [tokenizer.decode(row) for b in batches for row in b['decoder_target_tokens']]
  assert prompts[:5] == [e.inputs for e in examples] and prompts[5:] == ['', '', '']

  train_iter = pipeline.make_train_iterator(config, tokenizer, 4, seed=0,
                                            family='encoder_decoder')
  seen = [tokenizer.decode(row) for _ in range(5) for row in next(train_iter)[
      'encoder_input_tokens']]
  assert len(seen) == 20 and train_iter.epoch == 1  # repeats, in a shuffled order
  train_inputs = sorted(f'translate English to German: Message {i}' for i in range(10))
  assert sorted(seen[:10]) == sorted(seen[10:20]) == train_inputs
  assert seen[:10] != sorted(seen[:10])
  with pytest.raises(ValueError, match='config.data.task is not set'):
    pipeline.task_examples(make_data_config(), 'validation')


def test_task_tokenizer_is_trained_on_the_task(monkeypatch, make_data_config,
                                               validation_texts, tmp_path):
  records = [{'document': text, 'summary': text.split('\n')[0], 'name': ''}
             for text in validation_texts]
  fake_task_records(monkeypatch, {'train': records})
  config = make_data_config(task='summarize_docstrings', data_dir=str(tmp_path),
                            tokenizer_vocab_size=600)
  tokenizer = pipeline.load_tokenizer_for(config)
  assert tokenizer.path == tokenizer_lib.cache_path(str(tmp_path), 'task_summarize_docstrings',
                                                    600)
  assert tokenizer.vocab_size == 600 + config.num_extra_ids
  # Trained on the examples' inputs and targets (training is deterministic).
  texts = [text for r in records for text in ('summarize: ' + r['document'], r['summary'])]
  with open(tokenizer.path, 'rb') as f:
    assert f.read() == tokenizer_lib.train(texts, 600)
  assert tokenizer.decode(tokenizer.encode(validation_texts[0])) == validation_texts[0]

  with pytest.raises(ValueError, match=r"task='summarize_docstrings' is too small.*"
                                       r'tokenizer_vocab_size=50000.*tokenizer_path'):
    pipeline.load_tokenizer_for(make_data_config(task='summarize_docstrings',
                                                 data_dir=str(tmp_path),
                                                 tokenizer_vocab_size=50000))
