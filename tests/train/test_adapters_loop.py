"""LoRA, prefix and prompt tuning through the one loop: only the adapters train and are checkpointed, the
base stays bit-identical, eval and generate modes load base plus adapter, a resumed run is exact, and a base
that changed under its adapters is refused."""
import os
import shutil

import jax
import numpy as np
import pytest

from finetune_configs import config_for, pretrain_tiny_t5

from lm_jax import modes, partitioning
from lm_jax.config.schema import default_config, override, validate_config
from lm_jax.models.bert import BertClassifier, BertClassifierConfig
from lm_jax.train import loop, optimizers, train_step
from lm_jax.train.adapters import Adapters
from lm_jax.train.metrics_writer import read_metrics
from lm_jax.train.run_dir import FORMAT_VERSION, CheckpointError, RunDir
from lm_jax.train.trainer import Trainer

TIMING = ('train/tokens_per_s',)


@pytest.fixture(scope='module')
def pretrained_t5(data_dir, tmp_path_factory):
  return pretrain_tiny_t5(data_dir, str(tmp_path_factory.mktemp('pretrain_t5')))


def _lora(data_dir, pretrained, **changes):
  # Django's catalogs (a requirement): a task whose data needs no building from the machine.
  base = {'init_from': pretrained, 'peft.method': 'lora', 'num_train_steps': 20,
          'log_every_steps': 5, 'eval_every_steps': 10, 'checkpoint_every_steps': 10,
          'num_eval_batches': 2, 'eval.num_examples': 8, 'data.task': 'translate_en_de',
          'early_stopping.metric': 'loss', 'early_stopping.mode': 'min'}
  return config_for('finetune_translation.py:tiny', data_dir, **{**base, **changes})


def _sizes(tree):
  return sorted(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_only_the_adapters_train_and_the_base_stays_bit_identical(
    data_dir, pretrained_t5, tmp_path):
  trainer = Trainer(_lora(data_dir, pretrained_t5), str(tmp_path / 'lora'))
  state = trainer.initial_state()
  assert set(state.params) == {'lora'}
  pretrained, _ = RunDir(pretrained_t5).read_params()
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(trainer.base), pretrained)
  # The optimizer holds state for the adapters alone: no leaf the size of a base kernel.
  adapter_count = sum(_sizes(state.params))
  assert sum(_sizes(state.opt_state)) <= 3 * adapter_count
  assert max(_sizes(state.opt_state)) <= max(_sizes(state.params))
  initial = jax.device_get(state.params)
  for _ in range(3):
    batch = partitioning.shard_batch(next(trainer.train_iter), trainer.batch_sharding)
    state, metrics = trainer.train_step(state, batch)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(trainer.base), pretrained)
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), jax.device_get(state.params), initial)
  assert min(jax.tree.leaves(moved)) > 0  # A and B of every adapted layer learn


def test_a_lora_run_checkpoints_adapters_alone_and_eval_mode_reproduces_it(
    data_dir, pretrained_t5, tmp_path):
  workdir = str(tmp_path / 'lora')
  last = loop.train_and_evaluate(_lora(data_dir, pretrained_t5), workdir)
  losses = [m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m]
  assert losses[-1] < losses[0], losses
  run = RunDir(workdir)
  assert run.format_version == FORMAT_VERSION
  assert run.adapter_base()['init_from'] == os.path.abspath(pretrained_t5)
  saved, step = run.read_params()
  assert (set(saved), step) == ({'lora'}, 20)
  base_count = sum(_sizes(RunDir(pretrained_t5).read_params()[0]))
  assert sum(_sizes(saved)) < 0.1 * base_count
  assert run.parameter_counts() == {'total': base_count, 'trainable': sum(_sizes(saved))}

  # Eval mode rebuilds base plus adapter from the run directory alone and scores what training
  # logged at its last evaluation (the same batches).
  plain = config_for('finetune_translation.py:tiny', data_dir, num_eval_batches=2,
                     **{'eval.num_examples': 8, 'data.task': 'translate_en_de'})
  result = modes.evaluate_checkpoint(plain, workdir, [])
  assert result['step'] == 20
  np.testing.assert_allclose(result['metrics']['loss'], last['eval/loss'], rtol=1e-6)
  np.testing.assert_allclose(result['metrics']['bleu'], last['eval/bleu'], rtol=1e-6)
  generate = override(plain.copy_and_resolve_references(), {'generate.max_new_tokens': 6})
  texts = modes.generate_from_checkpoint(generate, workdir, ['Delete the file.'])

  # Merge mode writes the whole model as a plain run, which scores and decodes the same.
  merged = modes.merge_adapters(plain, workdir, [])
  assert RunDir(merged).adapter_base() is None
  again = modes.evaluate_checkpoint(plain, merged, [])
  np.testing.assert_allclose(again['metrics']['loss'], result['metrics']['loss'], rtol=1e-5)
  assert modes.generate_from_checkpoint(generate, merged, ['Delete the file.']) == texts
  with pytest.raises(ValueError, match='no adapters to merge'):
    modes.merge_adapters(plain, pretrained_t5, [])

  # Resumed from its step-10 checkpoint, a run writes the rows the straight run wrote.
  resumed = str(tmp_path / 'resumed')
  loop.train_and_evaluate(_lora(data_dir, pretrained_t5, num_train_steps=10), resumed)
  loop.train_and_evaluate(_lora(data_dir, pretrained_t5), resumed)
  assert _untimed(read_metrics(resumed)) == _untimed(read_metrics(workdir))

  # Its base retrained under it: the adapters no longer belong to it, and nothing runs.
  moved_base = str(tmp_path / 'moved_base')
  shutil.copytree(pretrained_t5, moved_base)
  adapters_on_copy = str(tmp_path / 'on_copy')
  shutil.copytree(workdir, adapters_on_copy)
  shutil.copy(os.path.join(workdir, 'config.json'), adapters_on_copy)
  _point_at(adapters_on_copy, moved_base)
  loop.train_and_evaluate(config_for('t5_small.py:tiny', data_dir, num_train_steps=21,
                                     eval_every_steps=21, checkpoint_every_steps=21), moved_base)
  with pytest.raises(CheckpointError, match='adapters trained on .* now holds other weights'):
    modes.evaluate_checkpoint(plain, adapters_on_copy, [])


@pytest.mark.parametrize('method, options, trained', [
    ('prefix', {'peft.prefix_projection': True}, {'embedding', 'hidden', 'out'}),
    # Lester et al.'s learning rate: the prompt's few rows learn slowly at a full model's.
    ('prompt', {'peft.prompt_init': 'text', 'peft.prompt_init_text': 'Translate:',
                'data.pack': False, 'optimizer.learning_rate': 0.3}, None)])
def test_a_prefix_or_prompt_run_checkpoints_it_alone_and_eval_mode_reproduces_it(
    method, options, trained, data_dir, pretrained_t5, tmp_path):
  """Prefix tuning through the MLP reparameterisation (eval and generate modes use the MLP's
  output, folded once), prompt tuning from a text's embeddings; merge mode has nothing to fold
  into the weights and says so."""
  workdir = str(tmp_path / method)
  config = _lora(data_dir, pretrained_t5, num_train_steps=10, **{
      'peft.method': method, 'peft.num_virtual_tokens': 4, **options})
  last = loop.train_and_evaluate(config, workdir)
  losses = [m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m]
  assert losses[-1] < losses[0], losses
  saved, step = RunDir(workdir).read_params()
  assert (set(saved), step) == ({method}, 10)
  if trained:
    assert set(saved[method]) == trained
  else:  # the prompt: 4 rows of d_model
    assert saved[method].shape == (4, 64)
  plain = config_for('finetune_translation.py:tiny', data_dir, num_eval_batches=2,
                     **{'eval.num_examples': 8, 'data.task': 'translate_en_de'})
  result = modes.evaluate_checkpoint(plain, workdir, [])
  np.testing.assert_allclose(result['metrics']['loss'], last['eval/loss'], rtol=1e-6)
  np.testing.assert_allclose(result['metrics']['bleu'], last['eval/bleu'], rtol=1e-6)
  generate = override(plain.copy_and_resolve_references(), {'generate.max_new_tokens': 6})
  assert len(modes.generate_from_checkpoint(generate, workdir, ['Delete the file.'])) == 1
  with pytest.raises(ValueError, match=f'{method}-tuned run.*nothing to fold'):
    modes.merge_adapters(plain, workdir, [])


def _untimed(rows):
  return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def _point_at(workdir, base):
  """Rewrites a run's recorded init_from (as if its base had been moved there)."""
  import json
  path = os.path.join(workdir, 'config.json')
  with open(path) as f:
    config = json.load(f)
  config['init_from'] = base
  with open(path, 'w') as f:
    json.dump(config, f)


def test_peft_without_init_from_is_refused_before_any_compute(data_dir):
  config = config_for('finetune_translation.py:tiny', data_dir, **{'peft.method': 'lora'})
  with pytest.raises(ValueError, match='peft.method.*need.*init_from'):
    validate_config(config)
  with pytest.raises(ValueError, match='peft.method.*must be one of'):
    validate_config(override(config, {'init_from': '/x', 'peft.method': 'lora2'}))
  with pytest.raises(ValueError, match='data.pack.*own prompt.*--config.data.pack=False'):
    validate_config(override(config, {'init_from': '/x', 'peft.method': 'prompt'}))


def test_lora_on_the_bert_classifier_trains_its_new_head_in_full():
  """peft's SEQ_CLS keeps the classifier in modules_to_save: here every parameter init_from
  lacks (pooler and classifier) trains whole beside the adapters, through the train step."""
  model = BertClassifier(BertClassifierConfig(
      vocab_size=48, d_model=32, num_heads=4, head_dim=8, d_ff=64, num_layers=2, max_length=16,
      num_classes=3))
  rng = np.random.default_rng(0)
  batch = {'encoder_input_tokens': rng.integers(1, 48, (4, 8)).astype(np.int32),
           'label': np.array([0, 1, 2, 1], np.int32), 'label_weight': np.ones(4, np.float32)}
  shapes = {k: (v.shape, v.dtype) for k, v in batch.items()}
  params = train_step.init_params(model, jax.random.key(0), shapes)
  head = ('pooler/kernel', 'pooler/bias', 'classifier/kernel', 'classifier/bias')
  peft = override(default_config(), {'peft.method': 'lora', 'peft.targets': ('all-linear',)})
  adapters = Adapters.from_config(peft.peft, model, params, head)
  optimizer, schedule = optimizers.make_optimizer(
      override(default_config(), {'optimizer.name': 'adamw'}).optimizer, 10, adapters=True)
  state = train_step.init_train_state(model, optimizer, jax.random.key(1), shapes, adapters)
  assert set(state.params) == {'lora', 'head'}
  assert set(state.params['head']) == {'pooler', 'classifier'}
  base = adapters.frozen_base(params)
  assert 'classifier' not in base
  before = jax.device_get((state.params, base))
  step = jax.jit(train_step.make_train_step(model, optimizer, schedule, default_config().loss,
                                            adapters=adapters))
  for _ in range(2):
    state, _ = step(state, batch, base)
  moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), jax.device_get(state.params), before[0])
  assert min(jax.tree.leaves(moved)) > 0  # the head and every adapter learn
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(base), before[1])
