"""Tables and plots from runs' directories: seeds aggregate to mean ± sample std (n), a failed
run is shown as such, best follows GOAL."""
import csv
import io
import json
import os
import statistics

from lm_jax.sweep import emit, load_sweep, results, status
from tests.sweep.sweep_files import write_sweep

BODY = '''
METRIC, GOAL = 'eval/token_accuracy', 'max'
def points(add):
  add('baseline')
  add('wide', {'model.d_ff': 256})
  add('broken', {'optimizer.learning_rate': 1.0})
'''


def _fake_run(sweep, root, point, seed, accuracies, state='finished'):
  """A run directory as training leaves it: metrics.jsonl rows and the sweep's status."""
  run = sweep.run(point, seed)
  workdir = sweep.workdir(root, run)
  os.makedirs(workdir)
  with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
    for i, accuracy in enumerate(accuracies, start=1):
      f.write(json.dumps({'step': 10 * i, 'train/loss': 5.0 - i}) + '\n')
      f.write(json.dumps({'step': 10 * i, 'eval/loss': 4.0 - i,
                          'eval/token_accuracy': accuracy}) + '\n')
  status.write(workdir, state, sweep.identity(run), 12.0,
               **({'error': 'Traceback...\nValueError: it broke'} if state == 'failed' else {}))


def test_tables_aggregate_seeds_and_plots_are_written(tmp_path):
  root = str(tmp_path / 'runs')
  sweep = load_sweep(write_sweep(tmp_path, BODY, seeds=(0, 1)), root)
  _fake_run(sweep, root, 'baseline', 0, [0.2, 0.4, 0.3])
  _fake_run(sweep, root, 'baseline', 1, [0.25, 0.35, 0.33])
  _fake_run(sweep, root, 'wide', 0, [0.3, 0.5])
  _fake_run(sweep, root, 'wide', 1, [0.3, 0.45])
  _fake_run(sweep, root, 'broken', 0, [0.1], state='failed')
  rows = results.write(sweep, root)

  by_run = {(row['point'], row['seed']): row for row in rows}
  assert by_run[('baseline', 0)]['eval/token_accuracy'] == 0.3      # final
  assert by_run[('baseline', 0)]['best eval/token_accuracy'] == 0.4  # GOAL max
  assert by_run[('baseline', 0)]['best step'] == 20
  assert by_run[('wide', 1)]['model.d_ff'] == '256'
  assert by_run[('baseline', 1)]['model.d_ff'] == '128'  # the base config's value
  assert by_run[('broken', 1)]['state'] == 'not run'
  assert by_run[('broken', 0)]['error'] == 'ValueError: it broke'

  directory = tmp_path / 'runs' / 'demo'
  parsed = list(csv.DictReader(io.StringIO((directory / 'results.csv').read_text())))
  assert len(parsed) == 6 and parsed[2]['point'] == 'wide'
  table = (directory / 'results.md').read_text()
  expected = (f'{statistics.mean([0.3, 0.33]):.4g} ± {statistics.stdev([0.3, 0.33]):.2g}')
  baseline_line = next(line for line in table.splitlines() if line.startswith('| baseline |'))
  assert expected in baseline_line and '| 2 |' in baseline_line
  # wide - baseline, seed by seed: 0.5 - 0.3 and 0.45 - 0.33
  wide_line = next(line for line in table.splitlines() if line.startswith('| wide |'))
  differences = [0.5 - 0.3, 0.45 - 0.33]
  assert (f'| +{statistics.mean(differences):.4g} ± {statistics.stdev(differences):.2g} |'
          in wide_line)
  assert '| broken (failed, not run) |' in table
  for png in ('metric_by_axis.png', 'learning_curves.png'):
    assert (directory / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_emitted_commands_and_slurm_arrays_follow_dependencies(tmp_path):
  path = write_sweep(tmp_path, "def points(add):\n  add('pre')\n  add('other')\n"
                     "  add('fine', {'init_from': '@pre'})\n", seeds=(0, 1))
  sweep = load_sweep(path, 'runs')
  lines = emit.commands(sweep, 'runs', ('--multihost',))
  assert len(lines) == 6 and lines[0].startswith('python -m lm_jax.sweep --sweep=')
  assert lines[-1].endswith('--point=fine --seed=1 --multihost')
  assert all('fine' not in line for line in lines[:4])  # level 0 first
  paths = emit.slurm_scripts(sweep, 'runs', str(tmp_path / 'slurm'))
  assert [os.path.basename(p) for p in paths] == ['sweep.level0.slurm', 'sweep.level1.slurm']
  level0 = open(paths[0]).read()
  assert '#SBATCH --array=0-3' in level0 and '--level=0' in level0
  assert '--task_index="$SLURM_ARRAY_TASK_ID"' in level0
  assert [run.name for run in emit.levels(sweep)[1]] == ['fine/seed_0', 'fine/seed_1']
  assert 'afterany:$job' in emit.submit_lines(paths)[1]


def test_the_evaluation_after_training_is_tabulated_beside_its_baseline(tmp_path):
  body = ("def points(add):\n  add('plain')\n  add('scored', evaluate={'eval.split': 'test', "
          "'eval.baseline': True, 'eval.decontaminate_against': 'stdlib_docs:text'}, "
          "config='configs/t5_small.py:mini')\n")
  root = str(tmp_path / 'runs')
  sweep = load_sweep(write_sweep(tmp_path, body), root)
  _fake_run(sweep, root, 'plain', 0, [0.2])
  _fake_run(sweep, root, 'scored', 0, [0.2, 0.3])
  evaluation = {'step': 20, 'split': 'test', 'num_predictions': 50,
                'metrics': {'loss': 2.5, 'z_loss': 0.01, 'bleu': 14.0, 'chrf': 33.3},
                'baseline': {'name': 'copy the input', 'metrics': {'bleu': 12.9, 'chrf': 26.9}},
                'clean': {'against': 'stdlib_docs:text', 'n': 13, 'examples': 40, 'dirty': 10,
                          'metrics': {'bleu': 13.0, 'chrf': 30.0},
                          'baseline_metrics': {'bleu': 11.0, 'chrf': 25.0}}}
  with open(os.path.join(sweep.workdir(root, sweep.run('scored', 0)), 'eval_test.json'),
            'w') as f:
    json.dump(evaluation, f)
  rows = results.write(sweep, root)

  plain, scored = rows
  assert not any(key.startswith('test/') for key in plain)
  assert (scored['test/bleu'], scored['test/baseline/chrf'], scored['test/clean/bleu'],
          scored['test/clean_baseline/chrf'], scored['test/examples'],
          scored['test/clean_examples'], scored['test/baseline']) == (
              14.0, 26.9, 13.0, 25.0, 50, 40, 'copy the input')
  table = (tmp_path / 'runs' / 'demo' / 'results.md').read_text()
  assert '| point | config |' in table and '| scored | `configs/t5_small.py:mini` |' in table
  evaluated = [line for line in table.splitlines() if line.startswith('| scored | test |')]
  assert evaluated == [
      '| scored | test | 50 | bleu | 14 | 12.9 | copy the input | 40 | 13 | 11 | 20 |',
      '| scored | test | 50 | chrf | 33.3 | 26.9 | copy the input | 40 | 30 | 25 | 20 |']
