"""A two-host run in miniature: two processes of four CPU devices each, joined by
`jax.distributed` (over gloo) through `lm_jax.main`'s flags, fine-tune, evaluate and write exactly
what one process of eight devices does, once."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from lm_jax.config.schema import load_config, override
from lm_jax.data.builders import wordnet_categories
from lm_jax.train import loop
from lm_jax.train.metrics_writer import read_metrics
from system_data import wordnet

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICES = 8
# (pretraining config, fine-tuning config, its overrides): the encoder-decoder, whose evaluation
# decodes predictions on every host and gathers them, the most involved multi-host path. The
# other families' predictions gather through the same code (task_eval.predict_batch and
# partitioning.gather_rows); they were dropped from this test (two processes each, 2-3 minutes) to
# keep the suite under 30 minutes. Add them back with a line each.
# Translation reads Django's catalogs (installed by the requirements), not the machine's that
# the :tiny config names; the classifier WordNet files made by the test (`wordnet_env`).
DJANGO = {'data.task': 'translate_en_de'}
RUNS = {
    'encoder_decoder': ('t5_small.py:tiny', 'finetune_translation.py:tiny', DJANGO),
}


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _main(flags: list[str], processes: int, log_prefix: str, env: dict[str, str]) -> None:
  """`python -m lm_jax.main FLAGS` as `processes` processes sharing DEVICES CPU devices, with
  `env` added to the environment."""
  env = dict(os.environ, **env, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={DEVICES // processes}')
  cluster = []
  if processes > 1:
    cluster = [f'--coordinator_address=localhost:{_free_port()}',
               f'--num_processes={processes}']
  running = []
  for index in range(processes):
    log = open(f'{log_prefix}.{index}.log', 'w')
    process_flags = cluster + [f'--process_id={index}'] if cluster else []
    running.append((subprocess.Popen(
        [sys.executable, '-m', 'lm_jax.main', *flags, *process_flags], cwd=REPO, env=env,
        stdout=log, stderr=subprocess.STDOUT), log))
  failed = []
  for index, (process, log) in enumerate(running):
    try:
      code = process.wait(timeout=600)
    except subprocess.TimeoutExpired:
      process.kill()
      code = 'timeout'
    log.close()
    if code != 0:
      with open(log.name) as f:
        failed.append(f'process {index} exited {code}:\n{f.read()[-3000:]}')
  assert not failed, '\n'.join(failed)


@pytest.fixture(scope='module')
def pretrained(data_dir, tmp_path_factory):
  """family -> workdir of a few pretraining steps (fine-tuning reads its tokenizer and model)."""
  workdirs = {}
  for family, (spec, _, _) in RUNS.items():
    workdir = str(tmp_path_factory.mktemp(f'pretrain_{family}'))
    config = load_config(os.path.join(REPO, 'configs', spec))
    config.data.data_dir = data_dir
    loop.train_and_evaluate(override(config, {
        'num_train_steps': 4, 'eval_every_steps': 4, 'checkpoint_every_steps': 4,
        'num_samples': 0, 'optimizer.warmup_steps': 2}), workdir)
    workdirs[family] = workdir
  return workdirs


@pytest.fixture(scope='module')
def wordnet_env(tmp_path_factory) -> dict[str, str]:
  """The environment that points wordnet_categories at made-up data files in WordNet's format
  (Debian's wordnet-base may be absent)."""
  directory = wordnet.write(str(tmp_path_factory.mktemp('wordnet')))
  return {wordnet_categories.ENV_VAR: directory}


def _flags(family, data_dir, init_from, workdir, mode='train'):
  _, spec, changes = RUNS[family]
  overrides = {**changes, 'data.data_dir': data_dir, 'init_from': init_from,
               'per_device_batch_size': 16 // DEVICES, 'num_train_steps': 4,
               'log_every_steps': 1, 'eval_every_steps': 4, 'checkpoint_every_steps': 4,
               'num_eval_batches': 2, 'eval.num_examples': 24, 'num_samples': 2, 'mode': mode,
               'eval.checkpoint': 'latest'}
  return [f'--config={os.path.join(REPO, "configs", spec)}', f'--workdir={workdir}',
          *(f'--config.{key}={value}' for key, value in overrides.items())]


def _by_step(metrics: list[dict]) -> dict:
  """(step, name) -> value, without the wall-clock throughput."""
  return {(m['step'], key): value for m in metrics for key, value in m.items()
          if key not in ('step', 'train/tokens_per_s')}


@pytest.mark.parametrize('family', list(RUNS))
def test_two_hosts_train_and_evaluate_as_one(family, pretrained, wordnet_env, tmp_path):
  one, two = str(tmp_path / 'one_host'), str(tmp_path / 'two_hosts')
  data_dir = str(tmp_path / 'tfds')  # the task's data, apart from the session's real datasets
  _main(_flags(family, data_dir, pretrained[family], one), 1, one, wordnet_env)
  _main(_flags(family, data_dir, pretrained[family], two), 2, two, wordnet_env)

  # The same batches, losses and decoded predictions, and host 0 alone wrote them.
  single, double = read_metrics(one), read_metrics(two)
  assert [sorted(m) for m in double] == [sorted(m) for m in single]
  expected, got = _by_step(single), _by_step(double)
  np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=1e-5)
  task_metrics = [k for k in expected if k[1] in ('eval/bleu', 'eval/chrf', 'eval/accuracy')]
  assert task_metrics and all(got[k] == expected[k] for k in task_metrics)
  with open(os.path.join(two, 'samples.jsonl')) as f:
    assert len(f.readlines()) == 2

  # Eval mode on two hosts scores the checkpoint as one host's training logged it. Its
  # multi-host part (restoring on both hosts, host 0 writing) is the same for every family, and
  # each family's decoding on two hosts is checked above: one family runs it.
  if family != 'encoder_decoder':
    return
  _main(_flags(family, data_dir, pretrained[family], two, mode='eval'), 2, f'{two}_eval',
        wordnet_env)
  with open(os.path.join(two, 'eval_validation.json')) as f:
    result = json.load(f)
  last_eval = {k: v for (step, k), v in expected.items() if step == 4 and k.startswith('eval/')}
  for key, value in last_eval.items():
    assert result['metrics'][key.split('/', 1)[1]] == pytest.approx(value, rel=1e-5), key
  with open(os.path.join(two, 'predictions_validation.jsonl')) as f:
    assert len(f.readlines()) == result['num_predictions'] == 24


def test_a_partial_cluster_address_is_refused_before_any_compute(tmp_path):
  out = subprocess.run(
      [sys.executable, '-m', 'lm_jax.main',
       f'--config={os.path.join(REPO, "configs", "t5_small.py:tiny")}',
       f'--workdir={tmp_path / "run"}', '--num_processes=2'],
      cwd=REPO, env=dict(os.environ, JAX_PLATFORMS='cpu'), capture_output=True, text=True)
  assert out.returncode != 0
  assert '--coordinator_address, --process_id' in out.stderr
  assert not os.path.exists(tmp_path / 'run')
