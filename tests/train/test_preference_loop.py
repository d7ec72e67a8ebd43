"""Each objective of configs/phf_pep8.py trains through the one loop with a falling loss, logs
its misalignment metrics, and a scored run resumes exactly. On the embedded corpus and its
session tokenizer (the python_code corpus is for the real runs): what is checked here is the
mechanics, which do not depend on the text being code."""
import os

import numpy as np
import pytest

from lm_jax.config.schema import load_config, validate_config
from lm_jax.train import loop
from lm_jax.train.metrics_writer import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OBJECTIVES = ('mle', 'filtering', 'conditional', 'unlikelihood', 'rwr', 'awr')
SAMPLED = ('mle', 'conditional', 'awr')


def _config(objective, data_dir, **overrides):
  config = load_config(os.path.join(REPO, 'configs', f'phf_pep8.py:{objective},tiny'))
  config.data.update(dataset='stdlib_docs', data_dir=data_dir, eval_split='validation')
  config.update(num_train_steps=30, log_every_steps=5, eval_every_steps=30,
                checkpoint_every_steps=30, num_eval_batches=1, num_samples=0)
  config.optimizer.update(warmup_steps=3, learning_rate=3e-3)
  # The embedded docs are prose: half of its documents score above Korbak's code threshold.
  # Sampling is evaluated on three objectives (its code is the same for all; each compiles).
  config.preference.update(eval_samples=25 if objective in SAMPLED else 0, eval_prompts=0,
                           eval_max_length=24, threshold=0.02 if objective == 'filtering' else 0.0)
  config.update(overrides)
  validate_config(config)
  return config


def _train_losses(workdir):
  return {m['step']: m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m}


@pytest.mark.parametrize('objective', OBJECTIVES)
def test_each_objective_trains_with_a_falling_loss(objective, data_dir, tmp_path):
  workdir = str(tmp_path / objective)
  last = loop.train_and_evaluate(_config(objective, data_dir), workdir)
  losses = _train_losses(workdir)
  first, final = losses[min(losses)], losses[max(losses)]
  assert final < 0.9 * first, losses
  assert np.isfinite(last['eval/loss'])
  if objective in SAMPLED:
    assert 0 <= last['eval/misalignment'] <= last['eval/misalignment_max@25']
  if objective == 'conditional':
    assert 'eval/loss_aligned' in last and 'eval/misalignment_misaligned_prompt' in last


def test_a_scored_run_resumes_exactly(data_dir, tmp_path):
  """The conditional run's data state holds the carried tokens' scores and its documents'
  control-token draws; a run stopped at step 6 and continued matches one that never stopped."""
  def config(steps):
    c = _config('conditional', data_dir, num_train_steps=steps, log_every_steps=1,
                checkpoint_every_steps=6, eval_every_steps=100)
    c.optimizer.update(schedule='constant', warmup_steps=0)
    c.preference.eval_samples = 0
    return c
  straight = str(tmp_path / 'straight')
  loop.train_and_evaluate(config(12), straight)
  interrupted = str(tmp_path / 'interrupted')
  loop.train_and_evaluate(config(6), interrupted)
  loop.train_and_evaluate(config(12), interrupted)
  a, b = _train_losses(straight), _train_losses(interrupted)
  assert sorted(b) == list(range(1, 13))
  np.testing.assert_array_equal([b[s] for s in range(7, 13)], [a[s] for s in range(7, 13)])


def test_awr_without_a_value_head_is_refused_before_training(data_dir, tmp_path):
  config = _config('awr', data_dir)
  config.model.value_head = False
  with pytest.raises(ValueError, match='value head'):
    loop.train_and_evaluate(config, str(tmp_path / 'run'))
  assert not os.path.exists(os.path.join(tmp_path, 'run', 'checkpoints'))
