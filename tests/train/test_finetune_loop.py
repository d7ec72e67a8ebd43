"""Fine-tuning through the one loop: init_from a pretraining run, frozen feature extraction,
early stopping with a best checkpoint, and eval mode scoring exactly what training logged."""
import glob
import json
import os

import jax
import numpy as np
import pytest

from finetune_configs import config_for, pretrain_tiny_t5

from lm_jax import modes, partitioning
from lm_jax.config.schema import load_config
from lm_jax.data import packing, tasks
from lm_jax.data.builders import wordnet_categories
from lm_jax.evaluation import held_out, metrics
from lm_jax.train import loop, run_dir
from lm_jax.train.metrics_writer import read_metrics
from lm_jax.train.trainer import Trainer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def pretrained_t5(data_dir, tmp_path_factory):
  return pretrain_tiny_t5(data_dir, str(tmp_path_factory.mktemp('pretrain_t5')))


def _steps(workdir, directory='checkpoints'):
  return sorted(int(os.path.basename(p)) for p in glob.glob(f'{workdir}/{directory}/[0-9]*'))


def _translation(data_dir, pretrained, **changes):
  # Django's catalogs (a requirement), not the machine's that finetune_translation.py:tiny reads.
  base = {'init_from': pretrained, 'num_train_steps': 30, 'log_every_steps': 5,
          'eval_every_steps': 10, 'checkpoint_every_steps': 10, 'num_eval_batches': 2,
          'eval.num_examples': 16, 'data.task': 'translate_en_de'}
  return config_for('finetune_translation.py:tiny', data_dir, **{**base, **changes})


def test_finetuning_starts_from_the_pretrained_weights_and_learns(data_dir, pretrained_t5,
                                                                  tmp_path):
  workdir = str(tmp_path / 'translate')
  config = _translation(data_dir, pretrained_t5, num_train_steps=40)
  trainer = Trainer(config, workdir)
  initial = trainer.initial_state().params
  pretrained_params, _ = Trainer(
      config_for('t5_small.py:tiny', data_dir), pretrained_t5, training=False).latest_params()
  jax.tree.map(np.testing.assert_array_equal, initial, pretrained_params)
  assert trainer.config.data.tokenizer_path.endswith('.model')

  last = loop.train_and_evaluate(config, workdir)
  losses = [m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m]
  assert losses[-1] < losses[0] - 1.0, losses
  for key in ('eval/bleu', 'eval/chrf', 'eval/loss'):
    assert np.isfinite(last[key])


def _one_example_a_row(packed: dict) -> dict:
  """The segments of a packed encoder-decoder batch, each in a row of its own."""
  rows = []
  for row in range(packed['encoder_input_tokens'].shape[0]):
    for segment in range(1, packed['encoder_segment_ids'][row].max() + 1):
      rows.append({key: value[row][packed[f'{key.split("_")[0]}_segment_ids'][row] == segment]
                   for key, value in packed.items() if 'segment' not in key and
                   'positions' not in key})
  length = lambda key: packed[key].shape[1]
  return packing.pad_rows(rows, packing.encoder_decoder_shapes(
      len(rows), length('encoder_input_tokens'), length('decoder_target_tokens')))


def test_packed_training_batches_score_like_their_examples_one_a_row(data_dir, pretrained_t5,
                                                                      tmp_path):
  trainer = Trainer(_translation(data_dir, pretrained_t5), str(tmp_path / 'translate'))
  assert trainer.config.data.pack and trainer.train_iter.pack
  params = trainer.initial_state().params
  packed = next(trainer.train_iter)
  unpacked = _one_example_a_row(packed)
  assert len(unpacked['encoder_input_tokens']) > 1.5 * len(packed['encoder_input_tokens'])
  sums = [jax.device_get(trainer.eval_step(
      params, partitioning.shard_batch(batch, trainer.batch_sharding)))
      for batch in (packed, unpacked)]
  assert sums[0]['weight_sum'] == sums[1]['weight_sum'] > 0
  np.testing.assert_allclose(sums[0]['loss_sum'], sums[1]['loss_sum'], rtol=1e-5)
  assert sums[0]['correct_sum'] == sums[1]['correct_sum']


@pytest.mark.parametrize('mode', [{}, {'finetune.mode': 'frozen', 'finetune.trainable': 'decoder'}],
                         ids=['full', 'frozen'])
def test_resuming_a_finetuning_run_does_not_read_the_pretrained_weights(
    data_dir, pretrained_t5, tmp_path, monkeypatch, capsys, mode):
  workdir = str(tmp_path / 'translate')
  loop.train_and_evaluate(_translation(data_dir, pretrained_t5, num_train_steps=10, **mode),
                          workdir)

  def refuse(*args, **kwargs):
    raise AssertionError('the pretrained weights were read by a resuming run')

  monkeypatch.setattr(run_dir.params, 'read_params', refuse)
  # Frozen runs label their parameters from the checkpoint's metadata (shapes) instead.
  loop.train_and_evaluate(_translation(data_dir, pretrained_t5, num_train_steps=20, **mode),
                          workdir)
  assert _steps(workdir)[-1] == 20
  assert 'Resumed from' in capsys.readouterr().out


def test_eval_mode_reproduces_the_metrics_logged_in_training(data_dir, pretrained_t5, tmp_path):
  workdir = str(tmp_path / 'translate')
  loop.train_and_evaluate(_translation(data_dir, pretrained_t5, num_train_steps=10), workdir)
  logged = [m for m in read_metrics(workdir) if 'eval/loss' in m][-1]

  # With the trivial baseline, and the clean subset against the German side of its own training
  # split: 3-grams, as UI messages are short and share phrases ('Geben Sie einen gültigen ...').
  result = modes.evaluate_checkpoint(_translation(data_dir, None, mode='eval', **{
      'eval.baseline': True, 'eval.decontaminate_against': 'django_translations/de:target',
      'eval.decontaminate_ngram': 3}), workdir, [])
  with open(os.path.join(workdir, 'eval_validation.json')) as f:
    assert json.load(f) == result
  assert result['step'] == 10 and result['num_predictions'] == 16
  for key, value in result['metrics'].items():
    assert value == pytest.approx(logged[f'eval/{key}'], rel=1e-6, abs=1e-9), key
  with open(os.path.join(workdir, 'predictions_validation.jsonl')) as f:
    records = [json.loads(line) for line in f]
  assert len(records) == 16
  assert records[0]['input'].startswith('translate English to German: ')
  assert records[0]['references'] and isinstance(records[0]['prediction'], str)

  copies = [r['input'].split(': ', 1)[1] for r in records]
  references = [r['references'] for r in records]
  assert result['baseline'] == {'name': 'copy the input', 'metrics': metrics.compute(
      ('bleu', 'chrf'), copies, references)}
  clean = result['clean']
  assert clean['examples'] + clean['dirty'] == 16 and clean['n'] == 3
  examples = [tasks.Example(r['input'], r['references'][0], tuple(r['references']))
              for r in records]
  corpus = held_out.corpus_texts(_translation(data_dir, None).data, clean['against'])
  keep = [i for i, dirty in enumerate(held_out.dirty_flags(corpus, examples, 3)) if not dirty]
  assert len(keep) == clean['examples'] and clean['examples'] > 0 and clean['dirty'] > 0
  assert clean['metrics'] == metrics.compute(
      ('bleu', 'chrf'), [records[i]['prediction'] for i in keep], [references[i] for i in keep])
  assert clean['baseline_metrics'] == metrics.compute(
      ('bleu', 'chrf'), [copies[i] for i in keep], [references[i] for i in keep])


def test_early_stopping_stops_and_keeps_the_best_checkpoint(data_dir, pretrained_t5, tmp_path):
  workdir = str(tmp_path / 'translate')
  # Whole-string exact match of a barely trained model stays 0: the first evaluation is the best.
  config = _translation(data_dir, pretrained_t5, num_train_steps=60, eval_every_steps=5,
                        checkpoint_every_steps=100, **{
                            'eval.metrics': ('accuracy',), 'early_stopping.metric': 'accuracy',
                            'early_stopping.patience': 2})
  loop.train_and_evaluate(config, workdir)
  evals = [m for m in read_metrics(workdir) if 'eval/accuracy' in m]
  assert [m['eval/accuracy'] for m in evals] == [0.0, 0.0, 0.0]
  assert [m['step'] for m in evals] == [5, 10, 15]
  assert _steps(workdir) == [15]               # the stop is checkpointed
  assert _steps(workdir, 'checkpoints_best') == [5]

  loop.train_and_evaluate(config, workdir)     # started again: stays stopped
  assert _steps(workdir) == [15]
  best = modes.evaluate_checkpoint(_translation(data_dir, None, mode='eval', **{
      'eval.checkpoint': 'best', 'eval.metrics': ('accuracy',)}), workdir, [])
  assert best['step'] == 5


@pytest.fixture
def length_task():
  """A test-only classification task on real docstring summaries: is the summary longer than
  eight words? (Its labels follow from the text, so a model can learn them.)"""
  name = 'test_summary_length'
  if name not in tasks.TASKS:
    tasks.register(tasks.Task(
        name=name, dataset='docstring_summaries',
        preprocess=lambda r: tasks.Example(
            inputs=f"summary: {r['summary']}",
            targets='long' if len(r['summary'].split()) > 8 else 'short',
            references=('long' if len(r['summary'].split()) > 8 else 'short',)),
        metrics=('accuracy', 'f1'), labels=('short', 'long'),
        description='test only'))
  return name


def test_frozen_bert_feature_extraction_trains_only_the_head(data_dir, length_task, tmp_path):
  pretrain = str(tmp_path / 'bert')
  loop.train_and_evaluate(config_for('bert_base.py:tiny', data_dir, num_train_steps=5,
                                     **{'optimizer.warmup_steps': 2},
                                     eval_every_steps=5, checkpoint_every_steps=5), pretrain)
  config = config_for('finetune_classification.py:bert_tiny', data_dir, init_from=pretrain,
                      num_train_steps=20, eval_every_steps=20, checkpoint_every_steps=20,
                      num_eval_batches=2, **{'data.task': length_task, 'finetune.mode': 'frozen',
                                             'eval.num_examples': 32})
  workdir = str(tmp_path / 'frozen')
  last = loop.train_and_evaluate(config, workdir)
  assert 0 <= last['eval/accuracy'] <= 100 and 'eval/f1' in last

  before, _ = Trainer(config_for('bert_base.py:tiny', data_dir), pretrain,
                      training=False).latest_params()
  after, step = Trainer(config, workdir, training=False).latest_params()
  assert step == 20
  backbone = {k: v for k, v in after.items() if k not in ('pooler', 'classifier')}
  assert set(backbone) == set(before) - {'mlm_head'}
  jax.tree.map(np.testing.assert_array_equal, backbone,
               {k: before[k] for k in backbone})     # bit-identical
  initial = Trainer(config, str(tmp_path / 'fresh')).initial_state().params
  assert not all(jax.tree.leaves(jax.tree.map(np.array_equal, initial['classifier'],
                                              after['classifier'])))  # the head learned


def test_an_early_stopping_metric_the_run_does_not_compute_is_refused(data_dir, tmp_path):
  config = _translation(data_dir, None, **{'early_stopping.metric': 'rougeL'})
  with pytest.raises(ValueError, match="early_stopping.metric='rougeL'.*bleu, chrf"):
    Trainer(config, str(tmp_path / 'run'))


def test_frozen_without_pretrained_weights_is_refused(tmp_path, monkeypatch):
  config = load_config(os.path.join(REPO, 'configs', 'finetune_classification.py:bert_tiny'))
  config.finetune.mode = 'frozen'
  # Refused before any data is read: with no WordNet to read, whatever the machine holds.
  config.data.data_dir = str(tmp_path)
  monkeypatch.setenv(wordnet_categories.ENV_VAR, str(tmp_path))
  with pytest.raises(ValueError, match='init_from'):
    Trainer(config, '/nonexistent')
