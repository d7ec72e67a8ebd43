"""The one training loop trains every model family from its config, and generate mode continues
prompts from the checkpoint it leaves."""
import json
import math
import os

import pytest

from lm_jax import modes
from lm_jax.config.schema import load_config
from lm_jax.generation import prompts
from lm_jax.train import loop
from lm_jax.train.metrics_writer import read_metrics
from lm_jax.train.trainer import Trainer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAMILY_CONFIGS = ['gpt2_small.py:tiny', 'bert_base.py:tiny', 'transformer_base.py:tiny']


def _config(spec, data_dir, steps=60):
  config = load_config(os.path.join(REPO, 'configs', spec))
  config.data.data_dir = data_dir
  config.num_train_steps = steps
  config.log_every_steps = 10
  config.eval_every_steps = steps
  config.checkpoint_every_steps = steps
  config.num_eval_batches = 2
  config.num_samples = 2
  return config


@pytest.mark.parametrize('spec', FAMILY_CONFIGS)
def test_family_trains_with_falling_loss_and_writes_samples(spec, data_dir, tmp_path):
  config = _config(spec, data_dir)
  workdir = str(tmp_path / 'run')
  last = loop.train_and_evaluate(config, workdir)
  losses = {m['step']: m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m}
  first, final = losses[min(losses)], losses[max(losses)]
  assert final < first - 1.0, losses
  assert last['eval/perplexity'] == pytest.approx(math.exp(last['eval/loss']), rel=1e-4)
  assert 0 < last['eval/token_accuracy'] < 1
  with open(os.path.join(workdir, 'samples.jsonl')) as f:
    samples = [json.loads(line) for line in f]
  assert len(samples) == 2 and all(s['target'] for s in samples)


def test_generate_mode_continues_prompts_from_the_latest_checkpoint(data_dir, tmp_path, capsys,
                                                                   monkeypatch):
  config = _config('gpt2_small.py:tiny', data_dir, steps=30)
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(config, workdir)
  config.mode = 'generate'
  config.generate.max_new_tokens = 8
  readings = []
  continue_texts = prompts.continue_texts

  def recording(*args, data_config=None, **kwargs):  # which reading of the prompts was chosen
    readings.append(prompts.prefix_lm_reading(data_config))
    return continue_texts(*args, data_config=data_config, **kwargs)

  monkeypatch.setattr(prompts, 'continue_texts', recording)
  texts = modes.generate_from_checkpoint(config, workdir, ['def main(', 'The'])
  assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
  assert 'at step 30' in capsys.readouterr().out
  # The run's own data config decides: a causal LM reads its prompts causally.
  assert readings == [(False, False)]
  config.generate.update(strategy='sample', top_k=5, temperature=0.8)
  assert modes.generate_from_checkpoint(config, workdir, ['The']) == \
      modes.generate_from_checkpoint(config, workdir, ['The'])  # seeded by config.seed


def test_generate_mode_without_a_checkpoint_says_to_train_first(data_dir, tmp_path):
  config = _config('gpt2_small.py:tiny', data_dir)
  config.mode = 'generate'
  with pytest.raises(FileNotFoundError, match='train first'):
    modes.generate_from_checkpoint(config, str(tmp_path / 'empty'), ['x'])


def test_objective_that_does_not_feed_the_model_family_is_rejected(data_dir, tmp_path):
  config = _config('gpt2_small.py:tiny', data_dir)
  config.data.objective = 'mlm'
  with pytest.raises(ValueError, match="decoder_only.*causal_lm"):
    Trainer(config, str(tmp_path / 'run'))


def test_modes_cover_the_schema():
  from lm_jax import choices
  assert tuple(modes.MODES) == choices.RUN_MODES
