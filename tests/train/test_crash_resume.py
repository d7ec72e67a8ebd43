"""A training process SIGKILLed at fixed points (after a logged step, and in the middle of an
asynchronous save) resumes to exactly the metrics.jsonl of an uninterrupted run, each step once."""
import glob
import os
import subprocess
import sys

from lm_jax.train import fault_injection
from lm_jax.train.metrics_writer import read_metrics

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMING = ('train/tokens_per_s',)  # the one field that differs between two identical runs


def _run(workdir, data_dir, kill_at=None):
  env = dict(os.environ, JAX_PLATFORMS='cpu')
  env.pop(fault_injection.ENV_VAR, None)
  if kill_at:
    env[fault_injection.ENV_VAR] = kill_at
  flags = ['--config=configs/gpt2_small.py:tiny', f'--workdir={workdir}',
           f'--config.data.data_dir={data_dir}', '--config.num_train_steps=40',
           '--config.log_every_steps=5', '--config.eval_every_steps=10',
           '--config.checkpoint_every_steps=10', '--config.num_eval_batches=1',
           '--config.num_samples=0']
  result = subprocess.run([sys.executable, '-m', 'lm_jax.main', *flags], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
  return result


def _rows(workdir):
  return [{k: v for k, v in row.items() if k not in TIMING} for row in read_metrics(workdir)]


def test_sigkilled_runs_resume_to_the_uninterrupted_metrics(data_dir, tmp_path):
  straight = str(tmp_path / 'straight')
  assert _run(straight, data_dir).returncode == 0

  crashed = str(tmp_path / 'crashed')
  # Killed after step 25 was logged (checkpoint 20 is the latest): rows 21-25 are written twice.
  assert _run(crashed, data_dir, kill_at='step:25').returncode == -9
  assert max(row['step'] for row in read_metrics(crashed)) == 25
  # Resumed at 20, then killed while checkpoint 30 is being written.
  assert _run(crashed, data_dir, kill_at='save:30').returncode == -9
  leftovers = glob.glob(f'{crashed}/checkpoints/*tmp*')
  finished = _run(crashed, data_dir)
  assert finished.returncode == 0, finished.stderr[-3000:]
  # Resumed at 20 (or at 30, where the save beat the kill) and run to the end.
  assert 'Resumed from' in finished.stdout

  rows = _rows(crashed)
  assert rows == _rows(straight)
  steps = [(row['step'], 'train/loss' in row) for row in rows]
  assert len(steps) == len(set(steps))  # each step's train and eval rows once
  # An interrupted save is never taken for a checkpoint, and is cleaned up on the next start.
  assert not glob.glob(f'{crashed}/checkpoints/*tmp*'), leftovers
