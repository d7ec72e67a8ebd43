"""Run directories written by earlier code (fixtures/format_<N>/, see fixture_runs.py) still open
with today's: the parameters compute what they computed when written, and eval, generate and
init_from work from them. A change that would strand users' runs fails here; bump
run_dir.FORMAT_VERSION and read the old format instead."""
import json
import os
import shutil

import jax
import numpy as np
import pytest
from fixture_runs import BASES, FIXTURES, FORMATS, RUNS, base_dir, config_for, fixed_batch_loss

from lm_jax import modes, partitioning
from lm_jax.config.schema import load_config, override
from lm_jax.train.run_dir import FORMAT_VERSION, RunDir
from lm_jax.train import train_step
from lm_jax.train.trainer import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
COMMITTED = sorted((int(path.parent.name.split('_')[1]), path.name.split('.')[0])
                   for path in FIXTURES.glob('format_*/*.expected.json'))


def test_every_format_up_to_the_current_one_has_committed_runs():
  assert {version for version, _ in COMMITTED} == set(range(1, FORMAT_VERSION + 1))
  assert {(version, name) for version, names in FORMATS.items() for name in names} == set(COMMITTED)
  assert {name for names in FORMATS.values() for name in names} == set(RUNS)


@pytest.fixture(params=COMMITTED, ids=[f'format_{v}_{name}' for v, name in COMMITTED])
def committed(request, tmp_path):
  """(a copy of the committed run, its name, what it computed when written, its format): eval
  mode writes into its run directory, and the committed one stays as written."""
  version, name = request.param
  workdir = tmp_path / name
  shutil.copytree(FIXTURES / f'format_{version}' / name, workdir)
  if name in BASES:  # the base moved with the checkout: point the run at its copy
    base = tmp_path / 'base'
    shutil.copytree(base_dir(name, version), base)
    with open(workdir / 'config.json') as f:
      saved = json.load(f)
    saved['init_from'] = str(base)
    with open(workdir / 'config.json', 'w') as f:
      json.dump(saved, f)
  with open(FIXTURES / f'format_{version}' / f'{name}.expected.json') as f:
    expected = json.load(f)
  assert RunDir(str(workdir)).format_version == version
  return str(workdir), name, expected, version


def _plain_config(name, data_dir, **changes):
  """The family's `:tiny` config as a user would pass it, without the fixture's model shape:
  eval and generate modes rebuild the model from the run's own config.json."""
  config = load_config(os.path.join(ROOT, 'configs', RUNS[name][0]))
  config.data.data_dir = data_dir
  return override(config, {'num_eval_batches': 1, 'eval.num_examples': 4,
                           'generate.max_new_tokens': 8, **changes})


def test_its_parameters_compute_what_they_computed_when_written(committed, data_dir):
  workdir, name, expected, _ = committed
  trainer = Trainer(_plain_config(name, data_dir), workdir, training=False)
  assert trainer.config.data.tokenizer_path == RunDir(workdir).tokenizer_file
  latest, step = trainer.latest_params()
  best, best_step = trainer.best_params()
  assert (step, best_step) == (expected['step'], expected['best_step'])
  np.testing.assert_allclose(fixed_batch_loss(trainer, latest), expected['fixed_batch_loss'],
                             rtol=1e-5)
  np.testing.assert_allclose(fixed_batch_loss(trainer, best), expected['best_fixed_batch_loss'],
                             rtol=1e-5)


def test_generate_mode_continues_as_when_written(committed, data_dir):
  workdir, name, expected, _ = committed
  texts = modes.generate_from_checkpoint(_plain_config(name, data_dir), workdir,
                                         [expected['prompt']])
  assert texts == [expected['continuation']]


@pytest.mark.parametrize('checkpoint', ['latest', 'best'])
def test_eval_mode_scores_it(committed, data_dir, checkpoint):
  workdir, name, expected, _ = committed
  result = modes.evaluate_checkpoint(
      _plain_config(name, data_dir, **{'eval.checkpoint': checkpoint}), workdir, [])
  assert result['step'] == expected['step' if checkpoint == 'latest' else 'best_step']
  assert np.isfinite(result['metrics']['loss'])
  with open(os.path.join(workdir, f"eval_{result['split']}.json")) as f:
    assert json.load(f) == result


def test_init_from_it_loads_every_parameter(committed, data_dir, tmp_path, capsys):
  workdir, name, _, version = committed
  config = config_for(name, data_dir, version, init_from=workdir, num_train_steps=1,
                      **{'early_stopping.metric': None, 'peft.method': 'none'})
  with config.unlocked():
    config.model = config.model.__class__({'name': config.model.name})  # the shape comes from it
  trainer = Trainer(config, str(tmp_path / 'finetuned'))
  assert trainer.config.data.tokenizer_path == RunDir(workdir).tokenizer_file
  initial = trainer.initial_state().params
  assert 'parameters loaded' in capsys.readouterr().out
  # What eval mode computes with: an adapter run's adapters merged into its base.
  pretrained, _ = Trainer(_plain_config(name, data_dir), workdir, training=False).latest_params()
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(initial), jax.device_get(pretrained))


# The T5 runs of each format hold each format's optimizer state; GPT's adds only compile time.
_T5_RUNS = [(v, name) for v, name in COMMITTED if name.startswith('t5')]


@pytest.mark.parametrize('committed', _T5_RUNS, indirect=True,
                         ids=[f'format_{v}_{name}' for v, name in _T5_RUNS])
def test_training_resumes_from_it(committed, data_dir, tmp_path):
  """The whole train state comes back, Adafactor's placeholders included whether the format
  saved them (1, 2) or left them out (3), and the next step trains."""
  workdir, name, expected, version = committed
  changes = {'init_from': str(tmp_path / 'base')} if name in BASES else {}
  trainer = Trainer(config_for(name, data_dir, version, **changes), workdir)
  state = trainer.initial_state()
  assert int(state.step) == expected['step']
  assert jax.tree.structure(state) == jax.tree.structure(trainer._placed_state_shapes)
  for restored, shape in zip(jax.tree.leaves(state), jax.tree.leaves(
      trainer._placed_state_shapes), strict=True):
    assert restored.shape == shape.shape
  batch = partitioning.shard_batch(next(trainer.train_iter), trainer.batch_sharding)
  state, sums = trainer.train_step(state, batch)
  assert int(state.step) == expected['step'] + 1
  assert np.isfinite(train_step.summarize(jax.device_get(sums))['loss'])
