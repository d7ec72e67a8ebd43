"""The runner on real tiny runs: a killed run is recorded and the others finish; re-running
finishes only what is left, resuming from checkpoints; a finished sweep re-runs no training
and rewrites the same tables."""
import csv
import io
import json
import os

import pytest

from lm_jax.sweep import load_sweep, runner, status
from lm_jax.train import loop, metrics_writer
from tests.sweep.sweep_files import write_sweep

# Point 'long' runs 8 steps and is SIGKILLed at step 6 by the fault-injection hook (a checkpoint
# of an earlier step survives); point 'short' stops at step 4, before the hook.
POINTS = '''
COLUMNS = ('eval/loss', 'eval/token_accuracy')
def points(add):
  add('short')
  add('long', {'num_train_steps': 8})
'''


def _mtimes(directory):
  return {os.path.join(d, f): os.stat(os.path.join(d, f)).st_mtime_ns
          for d, _, files in os.walk(directory) for f in files}


def test_kill_resume_skip_and_same_tables(tmp_path, data_dir, monkeypatch):
  path = write_sweep(tmp_path, POINTS, data_dir=data_dir, num_train_steps=4)
  root = str(tmp_path / 'runs')
  sweep = load_sweep(path, root)
  workdir = {point: sweep.workdir(root, sweep.run(point, 0)) for point in sweep.points}
  tables = tmp_path / 'runs' / 'demo'

  # Subprocesses, as `python -m lm_jax.sweep` runs them: a killed one does not stop the other.
  monkeypatch.setenv('LM_JAX_KILL_AT', 'step:6')
  done = runner.run_sweep(sweep, root, parallel=1, report=lambda line: None)
  states = [done[name]['state'] for name in ('short/seed_0', 'long/seed_0')]
  assert states == ['finished', 'failed']
  assert 'was killed by signal 9' in status.read(workdir['long'])['error']
  assert 'train:' in status.read(workdir['long'])['error']  # the tail of its log
  table = (tables / 'results.md').read_text()
  assert '| long (failed) |' in table and '| short |' in table

  # Re-run: only the killed run trains, from its checkpoint; 'short' is not touched.
  monkeypatch.delenv('LM_JAX_KILL_AT')
  untouched = _mtimes(workdir['short'])
  lines = []
  runner.run_sweep(sweep, root, parallel=0, report=lines.append)
  assert '[1/2] short/seed_0: finished before' in lines
  assert _mtimes(workdir['short']) == untouched
  steps = [row['step'] for row in metrics_writer.read_metrics(workdir['long'])
           if 'train/loss' in row]
  assert steps == [2, 4, 6, 8]  # every step logged exactly once across the kill
  assert status.read(workdir['long'])['state'] == 'finished'
  csv_after, md_after = (tables / 'results.csv').read_text(), (tables / 'results.md').read_text()
  assert md_after.count('| 1 |') == 2  # n = 1 finished seed for each point
  for row in csv.DictReader(io.StringIO(csv_after)):  # what each run trains and keeps
    assert float(row['trainable %']) == 100 and float(row['checkpoint MB']) > 0.1

  # A finished sweep: no training at all, and the same tables.
  monkeypatch.setattr(loop, 'train_and_evaluate', lambda *a: pytest.fail('trained again'))
  everything = _mtimes(root)
  done = runner.run_sweep(sweep, root, parallel=0, report=lambda line: None)
  assert all(record['state'] == 'finished' for record in done.values())
  assert (tables / 'results.csv').read_text() == csv_after
  assert (tables / 'results.md').read_text() == md_after
  changed = {f for f, t in _mtimes(root).items() if everything.get(f) != t}
  assert {os.path.dirname(f) for f in changed} <= {str(tables)}, changed


def test_a_point_whose_values_changed_is_not_taken_for_the_finished_one(tmp_path):
  path = write_sweep(tmp_path, "def points(add):\n  add('a', {'model.d_ff': 32})\n")
  root = str(tmp_path / 'runs')
  sweep = load_sweep(path, root)
  run = sweep.runs[0]
  status.write(sweep.workdir(root, run), 'finished', {**sweep.identity(run),
                                                      'overrides': {'model.d_ff': 16}}, 5.0)
  message = runner.stale_message(sweep, root, run, status.read(sweep.workdir(root, run)))
  assert "'model.d_ff': 16" in message and 'Rename the point' in message
  record = runner.train_run(sweep, root, run)  # refuses before building anything
  assert record['state'] == 'stale'


def test_a_dependency_that_did_not_finish_is_reported(tmp_path):
  path = write_sweep(tmp_path, "def points(add):\n  add('pre')\n"
                     "  add('fine', {'init_from': '@pre'})\n")
  root = str(tmp_path / 'runs')
  sweep = load_sweep(path, root)
  record = runner.train_run(sweep, root, sweep.run('fine', 0))
  assert record['state'] == 'failed' and "whose run pre/seed_0 has not finished" in record['error']
  assert json.loads(open(status.path(sweep.workdir(root, sweep.run('fine', 0)))).read())[
      'state'] == 'failed'


def test_a_point_with_evaluate_is_scored_after_training_and_only_then_finished(tmp_path,
                                                                               monkeypatch):
  from lm_jax import modes
  path = write_sweep(tmp_path, "def points(add):\n  add('a', evaluate={'eval.split': 'test', "
                     "'eval.checkpoint': 'best'})\n")
  root = str(tmp_path / 'runs')
  sweep = load_sweep(path, root)
  run = sweep.runs[0]
  calls = []
  monkeypatch.setattr(loop, 'train_and_evaluate', lambda config, workdir: calls.append(
      ('train', config.mode, workdir)))

  def evaluate(config, workdir, prompts):
    calls.append(('eval', config.mode, workdir, config.eval.split, config.eval.checkpoint))
    raise RuntimeError('the test split is missing')
  monkeypatch.setattr(modes, 'evaluate_checkpoint', evaluate)
  workdir = sweep.workdir(root, run)
  record = runner.train_run(sweep, root, run)
  assert calls == [('train', 'train', workdir), ('eval', 'eval', workdir, 'test', 'best')]
  assert record['state'] == 'failed' and 'the test split is missing' in record['error']

  monkeypatch.setattr(modes, 'evaluate_checkpoint', lambda *args: calls.append('eval again'))
  assert runner.train_run(sweep, root, run)['state'] == 'finished'
  assert calls[-1] == 'eval again'
  assert status.read(workdir)['identity']['evaluate'] == {'eval.split': 'test',
                                                          'eval.checkpoint': 'best'}
