"""End-to-end behaviour of the training loop on the tiny T5 config."""
import glob
import json
import math
import os

import jax
import numpy as np
import pytest

from lm_jax.train import loop
from lm_jax.train.run_dir import CheckpointError
from lm_jax.train.metrics_writer import read_metrics
from lm_jax.train.trainer import Trainer


def _train_losses(workdir):
  return {m['step']: m['train/loss'] for m in read_metrics(workdir) if 'train/loss' in m}


def test_tiny_t5_learns_checkpoints_evaluates_and_samples(tiny_config, tmp_path):
  workdir = str(tmp_path / 'run')
  last = loop.train_and_evaluate(tiny_config, workdir)
  losses = _train_losses(workdir)
  first, final = losses[min(losses)], losses[max(losses)]
  # Uniform guessing over the tiny vocabulary costs log(2176) = 7.7 nats; learning must show.
  assert first > 6.5 and final < first - 2.0, losses
  assert last['eval/perplexity'] == pytest.approx(math.exp(last['eval/loss']), rel=1e-4)
  assert 0 < last['eval/token_accuracy'] < 1
  steps = sorted(int(os.path.basename(p)) for p in glob.glob(f'{workdir}/checkpoints/[0-9]*'))
  assert steps[-1] == tiny_config.num_train_steps
  samples = open(os.path.join(workdir, 'samples.jsonl')).read().splitlines()
  assert len(samples) == tiny_config.num_samples and '<extra_id_0>' in samples[0]
  assert glob.glob(f'{workdir}/tensorboard/events.out.tfevents.*')
  with open(os.path.join(workdir, 'data_fingerprint.json')) as f:
    recorded = json.load(f)
  assert recorded['datasets']['stdlib_docs']['num_examples']['train'] > 1000
  assert len(recorded['datasets']['stdlib_docs']['sha256']) == 64 and recorded['python_version']


def test_interrupted_run_resumes_exactly(tiny_config, tmp_path):
  tiny_config.num_train_steps = 12
  tiny_config.log_every_steps = 1
  tiny_config.checkpoint_every_steps = 6
  tiny_config.eval_every_steps = 100
  tiny_config.num_samples = 0
  tiny_config.model.dropout_rate = 0.1  # Resume must also restore the dropout rng.
  loop.train_and_evaluate(tiny_config, str(tmp_path / 'straight'))

  interrupted = str(tmp_path / 'interrupted')
  tiny_config.num_train_steps = 6
  loop.train_and_evaluate(tiny_config, interrupted)
  tiny_config.num_train_steps = 12
  loop.train_and_evaluate(tiny_config, interrupted)

  straight, resumed = _train_losses(str(tmp_path / 'straight')), _train_losses(interrupted)
  assert sorted(resumed) == list(range(1, 13))
  np.testing.assert_array_equal([resumed[s] for s in range(7, 13)],
                                [straight[s] for s in range(7, 13)])


def _short(config):
  config.num_train_steps = 2
  config.checkpoint_every_steps = 2
  config.eval_every_steps = 100
  config.num_samples = 0
  return config


def test_corrupt_checkpoint_is_an_error_not_a_fresh_start(tiny_config, tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(_short(tiny_config), workdir)
  for path in glob.glob(f'{workdir}/checkpoints/2/state/**/*', recursive=True):
    if os.path.isfile(path):
      open(path, 'wb').close()
  tiny_config.num_train_steps = 4
  with pytest.raises(CheckpointError, match='corrupt'):
    loop.train_and_evaluate(tiny_config, workdir)


def test_resuming_with_another_model_shape_is_refused(tiny_config, tmp_path):
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(_short(tiny_config), workdir)
  tiny_config.model.d_ff = 256
  with pytest.raises(CheckpointError, match='model'):
    loop.train_and_evaluate(tiny_config, workdir)


def test_tokenizer_larger_than_the_model_vocabulary_is_rejected(tiny_config, tmp_path):
  tiny_config.model.vocab_size = 1000
  with pytest.raises(ValueError, match='vocab_size'):
    loop.train_and_evaluate(tiny_config, str(tmp_path / 'run'))


def test_bfloat16_compute_trains_with_float32_parameters(tiny_config, tmp_path):
  tiny_config.model.dtype = 'bfloat16'
  tiny_config.update(num_train_steps=40, eval_every_steps=40, checkpoint_every_steps=40,
                     num_samples=0)
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config, workdir)
  losses = _train_losses(workdir)
  assert losses[40] < losses[10] - 1.0, losses
  trainer = Trainer(tiny_config, workdir)
  params = trainer.initial_state().params
  assert {str(p.dtype) for p in jax.tree.leaves(params)} == {'float32'}
