import json

import numpy as np
import pytest

from lm_jax import families
from lm_jax.data import packing, tasks
from lm_jax.data.tasks import task_iterator
from lm_jax.data.tasks.task import Example, Task, single_reference

TRANSLATE = tasks.get('translate_en_de')
CLASSIFY = tasks.get('glue_sst2')
SENTENCES = [f'sentence number {i} with some words' for i in range(11)]


def translation_examples(n=11):
  return [single_reference(f'translate English to German: {SENTENCES[i]}', f'Satz {i}')
          for i in range(n)]


def classification_examples(n=11):
  return [single_reference(f'sst2 sentence: {SENTENCES[i]}', CLASSIFY.labels[i % 2])
          for i in range(n)]


def make(task, examples, tokenizer, make_data_config, family, batch_size=4, seed=0,
         inputs_length=32, targets_length=8, pack=False, **kwargs):
  config = make_data_config(inputs_length=inputs_length, targets_length=targets_length,
                            pack=pack)
  return task_iterator.TaskIterator(task, examples, tokenizer, config, batch_size, seed,
                                    family=family, **kwargs)


def test_encoder_decoder_rows(tokenizer, make_data_config):
  examples = translation_examples(3)
  batch = next(make(TRANSLATE, examples, tokenizer, make_data_config, 'encoder_decoder',
                    shuffle=False, repeat=False))
  assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
      k: spec for k, spec in task_iterator.batch_shapes(
          'encoder_decoder', make_data_config(inputs_length=32, targets_length=8), 4).items()}
  for i, example in enumerate(examples):
    inputs = tokenizer.encode(example.inputs) + [1]
    targets = tokenizer.encode(example.targets) + [1]
    assert batch['encoder_input_tokens'][i].tolist() == inputs + [0] * (32 - len(inputs))
    assert batch['decoder_target_tokens'][i].tolist() == targets + [0] * (8 - len(targets))
    assert batch['decoder_input_tokens'][i].tolist() == [0] + targets + [0] * (7 - len(targets))
    assert batch['decoder_loss_weights'][i].tolist() == [1] * len(targets) + [0] * (
        8 - len(targets))
  assert not any(v[3].any() for v in batch.values())  # the padding row


def test_encoder_decoder_truncation(tokenizer, make_data_config):
  example = Example('translate English to German: ' + ' '.join(SENTENCES), ' '.join(SENTENCES),
                    ())
  inputs, targets = tokenizer.encode(example.inputs), tokenizer.encode(example.targets)
  batch = next(make(TRANSLATE, [example], tokenizer, make_data_config, 'encoder_decoder',
                    batch_size=1, inputs_length=16, targets_length=6))
  # T5 trims after appending EOS, so an over-long sequence has none.
  assert batch['encoder_input_tokens'][0].tolist() == inputs[:16]
  assert batch['decoder_target_tokens'][0].tolist() == targets[:6]
  assert batch['decoder_loss_weights'][0].tolist() == [1] * 6
  # Exactly at the limit the EOS still fits.
  exact = Example(tokenizer.decode(inputs[:15]), tokenizer.decode(targets[:5]), ())
  batch = next(make(TRANSLATE, [exact], tokenizer, make_data_config, 'encoder_decoder',
                    batch_size=1, inputs_length=16, targets_length=6))
  assert batch['encoder_input_tokens'][0].tolist() == inputs[:15] + [1]
  assert batch['decoder_target_tokens'][0].tolist() == targets[:5] + [1]


def test_decoder_only_rows(tokenizer, make_data_config):
  examples = translation_examples(2)
  batch = next(make(TRANSLATE, examples, tokenizer, make_data_config, 'decoder_only',
                    batch_size=3, inputs_length=32, targets_length=8, shuffle=False,
                    repeat=False))
  length = 32 + 8
  assert all(v.shape == (3, length) for v in batch.values())
  assert batch['decoder_causal_attention'].dtype == np.int32
  for row, example in enumerate(examples):
    prompt = tokenizer.encode(example.inputs) + [1]  # EOS separates inputs and targets
    targets = tokenizer.encode(example.targets) + [1]
    n, pad = len(prompt) + len(targets), [0] * (length - len(prompt) - len(targets))
    assert batch['decoder_target_tokens'][row].tolist() == prompt + targets + pad
    assert batch['decoder_input_tokens'][row].tolist() == [0] + prompt + targets[:-1] + pad
    # Full attention over BOS and the prompt; the loss only on the targets and their EOS.
    assert batch['decoder_causal_attention'][row].tolist() == [1] * (len(prompt) + 1) + [0] * (
        length - len(prompt) - 1)
    assert batch['decoder_loss_weights'][row].tolist() == [0] * len(prompt) + [1] * len(
        targets) + pad
    assert batch['decoder_segment_ids'][row].tolist() == [1] * n + pad
    assert batch['decoder_positions'][row].tolist() == list(range(n)) + pad
  assert not any(v[2].any() for v in batch.values())


def test_decoder_only_truncation_keeps_the_separator(tokenizer, make_data_config):
  long = ' '.join(SENTENCES)
  inputs, targets = tokenizer.encode(long), tokenizer.encode(long)
  batch = next(make(TRANSLATE, [Example(long, long, ())], tokenizer, make_data_config,
                    'decoder_only', batch_size=1, inputs_length=10, targets_length=5))
  assert batch['decoder_target_tokens'][0].tolist() == inputs[:9] + [1] + targets[:5]
  assert batch['decoder_loss_weights'][0].tolist() == [0] * 10 + [1] * 5
  assert task_iterator.decoder_only_prompt(inputs, 10, 1) == inputs[:9] + [1]


def test_encoder_classifier_rows(tokenizer, make_data_config):
  examples = classification_examples(3)
  batch = next(make(CLASSIFY, examples, tokenizer, make_data_config, 'encoder_classifier',
                    shuffle=False, repeat=False, inputs_length=12))
  assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
      'encoder_input_tokens': ((4, 12), np.int32), 'label': ((4,), np.int32),
      'label_weight': ((4,), np.float32)}
  assert batch['label'].tolist() == [0, 1, 0, 0]  # negative, positive, negative, padding
  assert batch['label_weight'].tolist() == [1, 1, 1, 0]
  for i, example in enumerate(examples):
    expected = (tokenizer.encode(example.inputs) + [1])[:12]
    assert batch['encoder_input_tokens'][i].tolist() == expected + [0] * (12 - len(expected))
  assert not batch['encoder_input_tokens'][3].any()


def test_encoder_classifier_needs_labels(tokenizer, make_data_config):
  with pytest.raises(ValueError, match="classification head needs a classification task.*"
                                       "'translate_en_de'.*wordnet_categories, glue_sst2"):
    make(TRANSLATE, translation_examples(), tokenizer, make_data_config, 'encoder_classifier')
  unknown = make(CLASSIFY, [single_reference('sst2 sentence: x', 'neutral')], tokenizer,
                 make_data_config, 'encoder_classifier')
  with pytest.raises(ValueError, match="'neutral', which is not one of its labels"):
    next(unknown)
  with pytest.raises(ValueError, match="'encoder_only'"):
    make(TRANSLATE, translation_examples(), tokenizer, make_data_config, 'encoder_only')
  with pytest.raises(ValueError, match=r'config.data.targets_length=0 .*decoder_only'):
    make(TRANSLATE, translation_examples(), tokenizer, make_data_config, 'decoder_only',
         targets_length=0)
  with pytest.raises(ValueError, match='no examples'):
    make(TRANSLATE, [], tokenizer, make_data_config, 'encoder_decoder')


def decoded_inputs(batch, tokenizer):
  """The inputs text of every real row of an encoder-decoder batch."""
  return [tokenizer.decode(row) for row, weights in
          zip(batch['encoder_input_tokens'], batch['decoder_loss_weights']) if weights.any()]


@pytest.mark.parametrize('shuffle', [False, True])
def test_eval_pass_covers_every_example_once(tokenizer, make_data_config, shuffle):
  examples = translation_examples(11)
  iterator = make(TRANSLATE, examples, tokenizer, make_data_config, 'encoder_decoder',
                  shuffle=shuffle, repeat=False)
  batches = list(iterator)
  assert len(batches) == 3 and next(iterator, None) is None
  seen = [text for batch in batches for text in decoded_inputs(batch, tokenizer)]
  expected = [e.inputs for e in examples]
  assert (seen == expected) if not shuffle else (sorted(seen) == sorted(expected))
  assert seen != expected or not shuffle
  assert not any(v[3:].any() for v in batches[-1].values())  # 11 = 4 + 4 + 3: one zero row
  assert all(v.shape[0] == 4 for v in batches[-1].values())


def test_train_epochs_are_seeded_permutations(tokenizer, make_data_config):
  examples = translation_examples(8)
  iterator = make(TRANSLATE, examples, tokenizer, make_data_config, 'encoder_decoder', seed=3)
  epochs = [[t for _ in range(2) for t in decoded_inputs(next(iterator), tokenizer)]
            for _ in range(3)]
  assert all(sorted(epoch) == sorted(e.inputs for e in examples) for epoch in epochs)
  assert epochs[0] != epochs[1] != epochs[2]
  again = make(TRANSLATE, examples, tokenizer, make_data_config, 'encoder_decoder', seed=3)
  assert decoded_inputs(next(again), tokenizer) == epochs[0][:4]
  other = make(TRANSLATE, examples, tokenizer, make_data_config, 'encoder_decoder', seed=4)
  assert decoded_inputs(next(other), tokenizer) != epochs[0][:4]


@pytest.mark.parametrize('family,pack', [(name, False) for name in families.TASK_FAMILIES]
                         + [('encoder_decoder', True), ('decoder_only', True)])
def test_resume_gives_identical_batches(tokenizer, make_data_config, family, pack):
  task = CLASSIFY if family == 'encoder_classifier' else TRANSLATE
  examples = classification_examples(7) if task is CLASSIFY else translation_examples(7)
  # Packed: two examples (24 + 6 tokens each) fit a row of 48 + 12, so a batch of 2 rows reads
  # 4 of the 7.
  batch_size = 2 if pack else 3
  lengths = dict(inputs_length=48, targets_length=12) if pack else {}
  original = make(task, examples, tokenizer, make_data_config, family, batch_size=batch_size,
                  seed=1, pack=pack, **lengths)
  states, batches = [], []
  for _ in range(9):  # 27 rows (36 packed examples): across three (five) epochs of 7
    states.append(json.loads(json.dumps(original.get_state())))
    batches.append(next(original))
  assert original.epoch == (5 if pack else 3)
  for step in (0, 2, 5, 8):
    resumed = make(task, examples, tokenizer, make_data_config, family, batch_size=batch_size,
                   seed=1, pack=pack, **lengths)
    resumed.set_state(states[step])
    for expected in batches[step:]:
      actual = next(resumed)
      assert actual.keys() == expected.keys()
      for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key])


def test_set_state_rejects_foreign_states(tokenizer, make_data_config):
  iterator = make(TRANSLATE, translation_examples(5), tokenizer, make_data_config,
                  'encoder_decoder')
  with pytest.raises(ValueError, match='no example index'):
    iterator.set_state({'epoch': 0, 'doc_index': 3, 'carry_tokens': [], 'chunk_index': 9})
  with pytest.raises(ValueError, match='split of 6 examples.*has 5'):
    iterator.set_state({'epoch': 0, 'index': 3, 'num_examples': 6})


def test_batch_shapes(make_data_config):
  config = make_data_config(inputs_length=20, targets_length=6)
  assert {k: s for k, (s, _) in task_iterator.batch_shapes('decoder_only', config, 2).items()} \
      == {k: (2, 26) for k in ('decoder_target_tokens', 'decoder_input_tokens',
                               'decoder_causal_attention', 'decoder_loss_weights',
                               'decoder_segment_ids', 'decoder_positions')}
  shapes = task_iterator.batch_shapes('encoder_decoder', config, 2)
  assert shapes['encoder_input_tokens'][0] == (2, 20)
  assert shapes['decoder_target_tokens'][0] == (2, 6)
  assert task_iterator.batch_shapes('encoder_classifier', config, 2)['label'][0] == (2,)


def packed_examples(batch, tokenizer):
  """(inputs text, targets text) of every segment of a packed encoder-decoder batch."""
  found = []
  for row in range(batch['encoder_input_tokens'].shape[0]):
    for segment in range(1, batch['encoder_segment_ids'][row].max() + 1):
      encoder = batch['encoder_segment_ids'][row] == segment
      decoder = batch['decoder_segment_ids'][row] == segment
      found.append((tokenizer.decode(batch['encoder_input_tokens'][row][encoder]),
                    tokenizer.decode(batch['decoder_target_tokens'][row][decoder])))
  return found


def test_packed_training_batches_read_every_example_once_per_epoch(tokenizer, make_data_config):
  examples = translation_examples(11)
  # 'translate English to German: sentence number i ...' is 24-26 tokens with EOS, 'Satz i' 6-7:
  # two examples fit a row of 52 + 14, three do not.
  iterator = make(TRANSLATE, examples, tokenizer, make_data_config, 'encoder_decoder',
                  batch_size=3, inputs_length=52, targets_length=14, pack=True)
  assert iterator.pack
  batches = [next(iterator) for _ in range(11)]  # 66 example slots: six epochs of 11
  seen = [pair for batch in batches for pair in packed_examples(batch, tokenizer)]
  assert len(seen) == 66 and iterator.get_state()['index'] == 11  # the sixth epoch's end
  expected = sorted((e.inputs, e.targets) for e in examples)
  for epoch in range(6):
    assert sorted(seen[epoch * 11:(epoch + 1) * 11]) == expected
  for batch in batches:
    assert set(batch) == set(packing.packed_encoder_decoder_shapes(3, 52, 14))
    assert (batch['encoder_segment_ids'].max(axis=1) == 2).all()  # full rows: two a row
    for key in ('encoder_input_tokens', 'decoder_target_tokens', 'decoder_loss_weights'):
      side = 'encoder' if key.startswith('encoder') else 'decoder'
      # Padding exactly where the segment id is 0.
      assert ((batch[key] != 0) == (batch[f'{side}_segment_ids'] != 0)).all(), key
  # Decoding starts from 0 in every segment: the inputs are the targets shifted within it.
  row = batches[0]
  expected_inputs = packing.shift_right_within_segments(row['decoder_target_tokens'],
                                                        row['decoder_segment_ids'])
  np.testing.assert_array_equal(row['decoder_input_tokens'], expected_inputs)


def test_evaluation_and_classifier_batches_are_not_packed(tokenizer, make_data_config):
  examples = translation_examples(5)
  for family in ('encoder_decoder', 'decoder_only'):
    assert not make(TRANSLATE, examples, tokenizer, make_data_config, family, pack=True,
                    shuffle=False, repeat=False).pack
  assert not make(CLASSIFY, classification_examples(5), tokenizer, make_data_config,
                  'encoder_classifier', pack=True).pack


def test_packed_decoder_only_batches_read_every_example_once_per_epoch(tokenizer,
                                                                      make_data_config):
  examples = translation_examples(11)
  # A prefix-LM row is BOS + 24-26 input tokens + EOS... then 'Satz i' + EOS: 30-33 positions;
  # two fit a row of 52 + 14 = 66, three do not.
  iterator = make(TRANSLATE, examples, tokenizer, make_data_config, 'decoder_only',
                  batch_size=3, inputs_length=52, targets_length=14, pack=True)
  assert iterator.pack
  batches = [next(iterator) for _ in range(11)]
  seen = []
  for batch in batches:
    assert set(batch) == set(task_iterator.batch_shapes(
        'decoder_only', make_data_config(inputs_length=52, targets_length=14), 3))
    for row in range(3):
      segments = batch['decoder_segment_ids'][row]
      assert segments.max() == 2
      for segment in (1, 2):
        at = segments == segment
        prompt = at & (batch['decoder_causal_attention'][row] == 1)
        answer = at & (batch['decoder_loss_weights'][row] == 1)
        assert batch['decoder_input_tokens'][row][at][0] == 0  # each starts from BOS
        assert batch['decoder_positions'][row][at].tolist() == list(range(at.sum()))
        seen.append((tokenizer.decode(batch['decoder_input_tokens'][row][prompt][1:]),
                     tokenizer.decode(batch['decoder_target_tokens'][row][answer])))
  assert len(seen) == 66
  expected = sorted((e.inputs, e.targets) for e in examples)
  for epoch in range(6):
    assert sorted(seen[epoch * 11:(epoch + 1) * 11]) == expected
