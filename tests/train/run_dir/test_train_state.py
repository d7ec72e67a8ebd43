"""Checkpointer round trips (with and without the loop's `extra` JSON), BestCheckpoint keeping
only the best step, refusing incompatible configs, and the leftovers of interrupted saves.
Integrity checks: test_integrity.py."""
import shutil

import jax
import jax.numpy as jnp
import optax
import pytest
from train_states import assert_same as _assert_same, train_state

from lm_jax.config.schema import default_config
from lm_jax.train import optimizers
from lm_jax.train.run_dir import CheckpointError, RunDir
from lm_jax.train.run_dir import optimizer_placeholders as placeholders
from lm_jax.train.run_dir.train_state import Restored
from lm_jax.train.train_step import TrainState

PARAMS = {'dense': {'kernel': jnp.arange(12.0).reshape(3, 4), 'bias': jnp.ones((4,))}}


def _state(step, scale=1.0):
  return train_state(PARAMS, step, scale)


def _checkpointer(path, **kwargs):
  return RunDir(str(path)).checkpointer(**kwargs)


@pytest.mark.parametrize('extra', [None, {'early_stopping': {'best_value': 0.5, 'best_step': 2}}])
def test_round_trip(tmp_path, extra):
  saver = _checkpointer(tmp_path, every_steps=2, keep=3)
  assert saver.restore_latest(_state(0)) is None
  assert not saver.maybe_save(3, _state(3), {'index': 3}, extra=extra)  # not a multiple of 2
  assert saver.maybe_save(4, _state(4, 2.0), {'index': 4}, extra=extra)
  saver.wait()
  saver.close()

  reader = _checkpointer(tmp_path, every_steps=2, keep=3)
  restored = reader.restore_latest(_state(0))
  assert isinstance(restored, Restored)
  assert restored.step == 4 and restored.data_state == {'index': 4}
  assert restored.extra == (extra or {})
  _assert_same(restored.state, _state(4, 2.0))
  state, data_state, step, extra_back = restored  # a NamedTuple unpacks too
  assert step == 4 and extra_back == restored.extra
  reader.close()


def test_incompatible_checkpoint_raises_checkpoint_error(tmp_path):
  saver = _checkpointer(tmp_path, every_steps=1, keep=1)
  saver.maybe_save(1, _state(1), {'index': 1}, force=True)
  saver.wait()
  other = TrainState(step=jnp.array(0), params={'other': jnp.zeros((2,))},
                     opt_state=(), dropout_rng=jax.random.key_data(jax.random.key(0)))
  with pytest.raises(CheckpointError, match='step 1'):
    saver.restore_latest(other)
  saver.close()


def test_best_checkpoint_keeps_only_the_best(tmp_path):
  best = RunDir(str(tmp_path)).best()
  assert best.restore_params(PARAMS) is None
  for step, value in ((10, 0.3), (20, 0.5), (40, 0.7)):  # the loop saves on improvements only
    best.save(step, jax.tree.map(lambda x: x * step, PARAMS),
              {'step': step, 'metric': 'accuracy', 'value': value})
  best.wait()
  assert sorted(p.name for p in (tmp_path / 'checkpoints_best').iterdir()) == ['40']
  best.close()

  reader = RunDir(str(tmp_path)).best()
  params, info = reader.restore_params(jax.tree.map(jnp.zeros_like, PARAMS))
  assert info == {'step': 40, 'metric': 'accuracy', 'value': 0.7}
  _assert_same(params, jax.tree.map(lambda x: x * 40, PARAMS))
  # A resumed run that improves at an earlier step than the kept one (it retrains steps after
  # its last regular checkpoint) replaces it.
  reader.save(30, PARAMS, {'step': 30, 'metric': 'accuracy', 'value': 0.6})
  reader.wait()
  assert reader.restore_params(PARAMS)[1]['step'] == 30
  assert sorted(p.name for p in (tmp_path / 'checkpoints_best').iterdir()) == ['30']
  reader.close()


def test_round_trip_with_a_partly_frozen_optimizer(tmp_path):
  """multi_transform's state holds empty MaskedNodes where parameters are frozen."""
  opt = default_config().optimizer
  opt.update(name='adamw', schedule='constant', warmup_steps=0)
  optimizer, _ = optimizers.make_optimizer(
      opt, 10, param_labels={'dense': {'kernel': 'frozen', 'bias': 'trainable'}})
  params = PARAMS
  opt_state = optimizer.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  updates, opt_state = optimizer.update(grads, opt_state, params)
  state = TrainState(step=jnp.array(1, jnp.int32), params=optax.apply_updates(params, updates),
                     opt_state=opt_state, dropout_rng=jax.random.key_data(jax.random.key(0)))
  saver = _checkpointer(tmp_path, every_steps=1, keep=1)
  saver.maybe_save(1, state, {'index': 1})
  saver.wait()
  abstract = jax.eval_shape(lambda: TrainState(
      step=jnp.array(0, jnp.int32), params=params, opt_state=optimizer.init(params),
      dropout_rng=jax.random.key_data(jax.random.key(0))))
  restored = saver.restore_latest(abstract)
  assert jax.tree.structure(restored.state) == jax.tree.structure(state)
  _assert_same(restored.state, state)
  saver.close()


def _adafactor_state(params):
  """An Adafactor train state after one update: it factors the (128, 256) kernel alone."""
  opt = default_config().optimizer
  opt.update(name='adafactor', schedule='constant', warmup_steps=0)
  optimizer, _ = optimizers.make_optimizer(opt, 10)
  opt_state = optimizer.init(params)
  grads = jax.tree.map(jnp.ones_like, params)
  updates, opt_state = optimizer.update(grads, opt_state, params)
  state = TrainState(step=jnp.array(1, jnp.int32), params=optax.apply_updates(params, updates),
                     opt_state=opt_state, dropout_rng=jax.random.key_data(jax.random.key(0)))
  return state, jax.eval_shape(lambda: state.replace(opt_state=optimizer.init(params)))


@pytest.mark.parametrize('saved_by', ['this code', 'format 1 and 2 code'])
def test_adafactor_placeholders_stay_out_of_checkpoints_and_come_back(tmp_path, monkeypatch,
                                                                      saved_by):
  params = {'big': jnp.ones((128, 256)), 'small': jnp.ones((3, 4)), 'bias': jnp.ones((4,))}
  state, abstract = _adafactor_state(params)
  placeholder_count = 2 * 2 + 1  # v_row, v_col of the two it does not factor; v of the one it does
  all_leaves = placeholders.count_leaves(state)
  if saved_by != 'this code':  # which saved every placeholder
    monkeypatch.setattr(placeholders, 'strip', lambda state: state)
  saver = _checkpointer(tmp_path, every_steps=1, keep=1)
  saver.maybe_save(1, state, {'index': 1})
  saver.wait()
  monkeypatch.undo()
  on_disk = saver._manager.item_metadata(1)['state']
  expected = all_leaves - placeholder_count if saved_by == 'this code' else all_leaves
  assert placeholders.count_leaves(getattr(on_disk, 'tree', on_disk)) == expected
  restored = saver.restore_latest(abstract)
  assert jax.tree.structure(restored.state) == jax.tree.structure(state)
  _assert_same(restored.state, state)  # the placeholders included: zeros((1,)), as optax made
  saver.close()


# This orbax names a step's temporary directory `<step>.orbax-checkpoint-tmp`; older ones added
# `-<timestamp>`. A save killed midway leaves it behind, possibly with every file in it.
LEFTOVERS = ('80.orbax-checkpoint-tmp', '90.orbax-checkpoint-tmp-1712345678')


def test_leftovers_of_interrupted_saves_are_never_steps_and_the_writer_removes_them(tmp_path):
  saver = _checkpointer(tmp_path, every_steps=1, keep=3)
  saver.maybe_save(2, _state(2), {'index': 2})
  saver.wait()
  saver.close()
  best = RunDir(str(tmp_path)).best()
  best.save(2, PARAMS, {'step': 2})
  best.wait()
  best.close()
  leftovers = []
  for directory in ('checkpoints', 'checkpoints_best'):
    for name in LEFTOVERS:
      leftovers.append(tmp_path / directory / name)
      shutil.copytree(tmp_path / directory / '2', leftovers[-1])

  # Readers (eval mode, init_from) ignore them, and leave them: a run training in the same
  # workdir may be writing into them.
  reader = _checkpointer(tmp_path, every_steps=1, keep=3, writer=False)
  assert reader.latest_step() == 2 and reader.restore_latest(_state(0)).step == 2
  reader.close()
  assert RunDir(str(tmp_path)).read_params()[1] == 2
  best = RunDir(str(tmp_path)).best()
  assert best.restore_params(PARAMS)[1]['step'] == 2
  assert all(path.exists() for path in leftovers)

  # The writer removes them when it opens (in the background; done before it first saves).
  writer = _checkpointer(tmp_path, every_steps=1, keep=3)
  assert writer.latest_step() == 2
  writer.maybe_save(3, _state(3), {'index': 3})
  best.save(3, PARAMS, {'step': 3})
  writer.wait()
  best.wait()
  assert not any(path.exists() for path in leftovers)
  assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['2', '3']
  assert sorted(p.name for p in (tmp_path / 'checkpoints_best').iterdir()) == ['3']
  writer.close()
  best.close()
