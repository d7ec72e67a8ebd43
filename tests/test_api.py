"""The Python entry points (lm_jax/api.py) behave as the command line: configs validated with the
key named, a run read back with its config, metrics, parameters and generate mode's output."""
import json
import os
import shutil

import jax
import numpy as np
import pytest

import lm_jax
from lm_jax.train.run_dir import RunDir

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train', 'run_dir',
                       'fixtures', 'format_1')


def test_load_config_applies_and_validates_overrides():
  config = lm_jax.load_config('configs/t5_small.py:tiny', {'optimizer.learning_rate': 0.003,
                                                           'model.d_ff': 96})
  assert (config.optimizer.learning_rate, config.model.d_ff) == (0.003, 96)
  with pytest.raises(KeyError, match="Did you mean 'optimizer.learning_rate'"):
    lm_jax.load_config('configs/t5_small.py:tiny', {'optimizer.learning_rat': 0.003})
  with pytest.raises(ValueError, match="'num_train_steps' = 0"):
    lm_jax.load_config('configs/t5_small.py:tiny', {'num_train_steps': 0})


def _restricted(loaded: dict, saved: dict) -> dict:
  """`loaded` with only the keys `saved` has (model sections whole)."""
  return {key: _restricted(loaded[key], value) if isinstance(value, dict) and key != 'model'
          else loaded.get(key) for key, value in saved.items()}


def test_load_run_reads_what_the_run_wrote(tmp_path):
  workdir = str(tmp_path / 't5')
  shutil.copytree(os.path.join(FIXTURE, 't5'), workdir)
  with open(os.path.join(FIXTURE, 't5.expected.json')) as f:
    expected = json.load(f)
  run = lm_jax.load_run(workdir)
  with open(os.path.join(workdir, 'config.json')) as f:
    saved = json.load(f)
  # Every value the run saved, and today's defaults for keys added since it was written.
  loaded = json.loads(run.config.to_json_best_effort())
  assert _restricted(loaded, saved) == saved
  assert loaded['eval']['baseline'] is False and 'baseline' not in saved['eval']
  assert run.latest_step() == expected['step']
  assert run.metrics()[-1]['step'] == expected['step']
  jax.tree.map(np.testing.assert_array_equal, run.params(), RunDir(workdir).read_params()[0])
  # generate mode's continuation of the prompt the fixture recorded when it was written
  assert run.generate([expected['prompt']], max_new_tokens=8) == [expected['continuation']]
  with pytest.raises(FileNotFoundError, match='holds no lm_jax run'):
    lm_jax.load_run(str(tmp_path))
