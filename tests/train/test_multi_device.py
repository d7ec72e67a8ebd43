"""8 simulated CPU devices run the same code as 1 device and give the same losses, also when
accumulating microbatches (the meshes with fsdp and tensor axes: tests/partitioning)."""
import json
import os
import subprocess
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_SCRIPT = '''
import json, sys
import jax
from lm_jax import partitioning
from lm_jax.config.schema import load_config
from lm_jax.train import loop
from lm_jax.train.metrics_writer import read_metrics
config = load_config(sys.argv[1])
config.data.data_dir, workdir = sys.argv[2], sys.argv[3]
config.per_device_batch_size = 16 // jax.device_count()
config.grad_accum_steps = int(sys.argv[4])
config.update(num_train_steps=4, log_every_steps=1, eval_every_steps=4, num_samples=0)
config.optimizer.warmup_steps = 2  # below the 4 steps, as decaying schedules require
loop.train_and_evaluate(config, workdir)
error = ''
try:
  partitioning.shard_batch({'x': __import__('numpy').zeros((12, 3))},
                           partitioning.batch_sharding(partitioning.create_mesh()))
except ValueError as e:
  error = str(e)
print(json.dumps({'devices': jax.device_count(), 'metrics': read_metrics(workdir),
                  'error': error}))
'''


def _run(devices, data_dir, workdir, config='t5_small.py:tiny', grad_accum_steps=1):
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_PLATFORMS='cpu')
  out = subprocess.run([sys.executable, '-c', _SCRIPT, os.path.join(REPO, 'configs', config),
                        data_dir, workdir, str(grad_accum_steps)], env=env, cwd=REPO,
                       capture_output=True, text=True, check=True)
  return json.loads(out.stdout.strip().splitlines()[-1])


_ONE_DEVICE = {}


def _one_device(config, data_dir, tmp_path_factory):
  """The 1-device run of `config`, run once for the tests that compare with it."""
  if config not in _ONE_DEVICE:
    _ONE_DEVICE[config] = _run(1, data_dir, str(tmp_path_factory.mktemp('one')), config)
  return _ONE_DEVICE[config]


def _assert_same_losses(one, other):
  for key in ('train/loss', 'eval/loss'):
    a = [m[key] for m in one['metrics'] if key in m]
    b = [m[key] for m in other['metrics'] if key in m]
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(b, a, rtol=2e-5)


def test_eight_devices_accumulating_microbatches_match_one_device(data_dir, tmp_path,
                                                                  tmp_path_factory):
  """grad_accum_steps=2 on 8 devices: each device computes its 2 rows as 2 microbatches of 1."""
  one = _one_device('t5_small.py:tiny', data_dir, tmp_path_factory)
  accumulated = _run(8, data_dir, str(tmp_path / 'eight'), grad_accum_steps=2)
  assert (one['devices'], accumulated['devices']) == (1, 8)
  _assert_same_losses(one, accumulated)
  # 12 rows cannot be split evenly over 8 devices, and the error says so.
  assert 'do not divide across the 8 data x fsdp shards' in accumulated['error']
  assert one['error'] == ''
