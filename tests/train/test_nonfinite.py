"""The NaN/Inf guard: a skipped update keeps parameters and optimizer moments but advances the
step and the schedule's counters; the loop stops on a non-finite step before saving past it, or
skips it and counts it in metrics.jsonl."""
import glob
import math
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from lm_jax import models
from lm_jax.config.schema import default_config
from lm_jax.data import pipeline
from lm_jax.train import loop, nonfinite, optimizers, train_step as steps
from lm_jax.train.metrics_writer import read_metrics


def _classifier_step(action):
  model = models.build_model(ml_collections.ConfigDict(dict(
      name='bert_classifier', vocab_size=64, d_model=16, num_heads=2, head_dim=8, d_ff=32,
      num_layers=1, max_length=8, num_classes=3, dropout_rate=0.0,
      attention_dropout_rate=0.0)))
  tokens = jnp.asarray(np.random.default_rng(0).integers(3, 64, (4, 8)), jnp.int32)
  batch = {'encoder_input_tokens': tokens, 'label': jnp.asarray([0, 1, 2, 1], jnp.int32),
           'label_weight': jnp.ones(4, jnp.float32)}
  config = default_config()
  config.optimizer.update(name='adamw', schedule='linear', warmup_steps=2)
  optimizer, schedule = optimizers.make_optimizer(config.optimizer, 10)
  params = steps.init_params(model, jax.random.key(0),
                             {k: (v.shape, v.dtype) for k, v in batch.items()})
  state = steps.TrainState(step=jnp.zeros((), jnp.int32), params=params,
                           opt_state=optimizer.init(params),
                           dropout_rng=jax.random.key_data(jax.random.key(1)))
  step = jax.jit(steps.make_train_step(model, optimizer, schedule, config.loss, nonfinite=action))
  poisoned = dict(batch, label_weight=batch['label_weight'].at[0].set(jnp.inf))
  return step, state, batch, poisoned, schedule


def _leaves(tree, integer):
  return [np.asarray(x) for x in jax.tree.leaves(tree)
          if jnp.issubdtype(x.dtype, jnp.integer) == integer]


def test_skipped_step_keeps_params_and_moments_and_advances_step_and_schedule():
  step, state, batch, poisoned, schedule = _classifier_step('skip')
  state, _ = step(state, batch)  # one real update, so the moments are not all zero
  before = jax.device_get(state)
  after, metrics = step(state, poisoned)
  assert int(metrics['nonfinite']) == 1
  assert float(metrics['weight_sum']) == 0 and float(metrics['loss_sum']) == 0  # not logged
  assert int(after.step) == 2
  assert not np.array_equal(np.asarray(after.dropout_rng), before.dropout_rng)
  for old, new in zip(jax.tree.leaves(before.params), jax.tree.leaves(after.params), strict=True):
    np.testing.assert_array_equal(old, new)
  for old, new in zip(_leaves(before.opt_state, False), _leaves(after.opt_state, False),
                      strict=True):
    np.testing.assert_array_equal(old, new)  # Adam's mu and nu
  counts = _leaves(after.opt_state, True)
  assert counts and all(int(c) == 2 for c in counts)  # optax's counters kept pace with the step
  # The next update is a real one, at the schedule's value for step 2.
  later, metrics = step(after, batch)
  assert int(metrics['nonfinite']) == 0
  assert float(metrics['learning_rate']) == pytest.approx(float(schedule(2)))
  assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(after.params),
                                                      jax.tree.leaves(later.params)))


def test_stop_mode_applies_the_step_and_flags_it():
  step, state, _, poisoned, _ = _classifier_step('stop')
  after, metrics = step(state, poisoned)
  assert int(metrics['nonfinite']) == 1
  assert not all(np.isfinite(x).all() for x in jax.tree.leaves(jax.device_get(after.params)))


def test_unknown_action_is_rejected():
  with pytest.raises(ValueError, match='nonfinite must be one of'):
    steps.make_train_step(None, None, None, None, nonfinite='ignore')


class _PoisonAt:
  """The train iterator with infinite loss weights in its `bad`-th batch (1-based)."""

  def __init__(self, iterator, bad):
    self._iterator, self._bad, self._count = iterator, bad, 0

  def __iter__(self):
    return self

  def __next__(self):
    batch = dict(next(self._iterator))
    self._count += 1
    if self._count == self._bad:
      batch['decoder_loss_weights'] = np.full_like(batch['decoder_loss_weights'], np.inf)
    return batch

  def get_state(self):
    return self._iterator.get_state()

  def set_state(self, state):
    self._iterator.set_state(state)


@pytest.fixture
def poison_step_7(monkeypatch):
  make = pipeline.make_train_iterator
  monkeypatch.setattr(pipeline, 'make_train_iterator',
                      lambda *args, **kwargs: _PoisonAt(make(*args, **kwargs), bad=7))


def _guarded(config):
  config.update(num_train_steps=12, log_every_steps=2, checkpoint_every_steps=4,
                eval_every_steps=100, num_samples=0, num_eval_batches=1)
  return config


def _checkpoint_steps(workdir):
  return sorted(int(os.path.basename(p)) for p in glob.glob(f'{workdir}/checkpoints/[0-9]*'))


def test_run_stops_at_a_nonfinite_step_and_keeps_the_last_good_checkpoint(
    tiny_config, tmp_path, poison_step_7):
  workdir = str(tmp_path / 'run')
  with pytest.raises(nonfinite.NonFiniteError, match=r'at step 7 .*checkpoint, step 4'):
    loop.train_and_evaluate(_guarded(tiny_config), workdir)
  assert _checkpoint_steps(workdir) == [4]
  rows = {m['step']: m for m in read_metrics(workdir)}
  assert max(rows) == 8 and math.isnan(rows[8]['train/loss'])  # logged, then stopped


def test_skip_mode_trains_through_and_counts_the_skipped_step(
    tiny_config, tmp_path, poison_step_7):
  workdir = str(tmp_path / 'run')
  tiny_config.nonfinite = 'skip'
  last = loop.train_and_evaluate(_guarded(tiny_config), workdir)
  assert math.isfinite(last['eval/loss'])
  rows = {m['step']: m for m in read_metrics(workdir) if 'train/loss' in m}
  assert {s: r['train/skipped_steps'] for s, r in rows.items()} == {
      2: 0, 4: 0, 6: 0, 8: 1, 10: 0, 12: 0}
  assert all(math.isfinite(r['train/loss']) for r in rows.values())
  assert _checkpoint_steps(workdir)[-1] == 12
