"""A sweep's results, rebuilt from its runs' directories: `results.csv` (one row per run: point,
seed, the swept values, final and best metrics, step, time, state) and `results.md` (one row per
point, seeds aggregated to mean ± std with their count n), plus the plots (plots.py)."""
import csv
import io
import json
import math
import os
import statistics

from lm_jax import atomic_files
from lm_jax.sweep import status
from lm_jax.sweep.spec import Run, Sweep, describe
from lm_jax.train import metrics_writer
from lm_jax.train.run_dir import RunDir


def sweep_dir(sweep: Sweep, root: str) -> str:
  return os.path.join(root, sweep.name)


def _metric_rows(workdir: str) -> list[dict]:
  try:
    return metrics_writer.read_metrics(workdir)
  except FileNotFoundError:
    return []


def _swept_values(sweep: Sweep, root: str, run: Run) -> dict:
  """Every swept key's value for `run`: its own override, else its config's (the baseline's)."""
  config = sweep.config(run, root)
  values = {}
  for key in sweep.swept_keys:
    value = config
    for part in key.split('.'):
      value = value[part]
    values[key] = describe(value)
  return values


def _held_out(sweep: Sweep, root: str, run: Run) -> dict:
  """The evaluation after training (the point's `evaluate`), flat: 'test/bleu',
  'test/baseline/bleu', 'test/clean/bleu', 'test/clean_baseline/bleu', 'test/examples', ..."""
  if run.evaluate is None:
    return {}
  config = sweep.eval_config(run, root)
  split = config.eval.split or config.data.eval_split  # as eval mode picks it
  try:
    with open(os.path.join(sweep.workdir(root, run), f'eval_{split}.json')) as f:
      result = json.load(f)
  except (FileNotFoundError, ValueError):
    return {}
  row = {f'{split}/{k}': v for k, v in result['metrics'].items()}
  row.update({f'{split}/examples': result['num_predictions'], f'{split}/step': result['step']})
  if 'baseline' in result:
    row[f'{split}/baseline'] = result['baseline']['name']
    row.update({f'{split}/baseline/{k}': v for k, v in result['baseline']['metrics'].items()})
  if 'clean' in result:
    clean = result['clean']
    row[f'{split}/clean_examples'] = clean['examples']
    row.update({f'{split}/clean/{k}': v for k, v in clean['metrics'].items()})
    row.update({f'{split}/clean_baseline/{k}': v
                for k, v in clean.get('baseline_metrics', {}).items()})
  return row


def _sizes(workdir: str) -> dict:
  """'trainable %' of the model's parameters and the latest 'checkpoint MB', where recorded."""
  run = RunDir(workdir)
  counts, checkpoint = run.parameter_counts(), run.checkpoint_bytes()
  sizes = {}
  if counts:
    sizes['trainable %'] = 100 * counts['trainable'] / counts['total']
  if checkpoint is not None:
    sizes['checkpoint MB'] = checkpoint / 1e6
  return sizes


def run_row(sweep: Sweep, root: str, run: Run, record: dict | None) -> dict:
  """One run's row: metrics of its last evaluation, the best `sweep.metric` and its step."""
  rows = _metric_rows(sweep.workdir(root, run))
  evals = [row for row in rows if any(key.startswith('eval/') for key in row)]
  final = {key: value for key, value in (evals[-1] if evals else {}).items()
           if key.startswith('eval/')}
  scored = [row for row in rows if sweep.metric in row]
  pick = min if sweep.goal == 'min' else max
  best = pick(scored, key=lambda row: row[sweep.metric]) if scored else {}
  record = record or {'state': 'not run'}
  error = (record.get('error') or '').strip().splitlines()
  return {'point': run.point, 'seed': run.seed, 'config': run.config_spec,
          **_swept_values(sweep, root, run),
          'state': record['state'], 'step': rows[-1]['step'] if rows else None,
          **final, f'best {sweep.metric}': best.get(sweep.metric), 'best step': best.get('step'),
          'seconds': record.get('seconds'), **_sizes(sweep.workdir(root, run)),
          **_held_out(sweep, root, run),
          'error': error[-1] if error else ''}


def collect(sweep: Sweep, root: str, known: dict | None = None) -> list[dict]:
  """One row per run, in sweep order; `known` {run name: record} overrides what is on disk."""
  known = known or {}
  return [run_row(sweep, root, run,
                  known.get(run.name) or status.read(sweep.workdir(root, run)))
          for run in sweep.runs]


def to_csv(rows: list[dict]) -> str:
  columns = list(dict.fromkeys(key for row in rows for key in row))
  out = io.StringIO()
  writer = csv.DictWriter(out, columns, lineterminator='\n')
  writer.writeheader()
  writer.writerows(rows)
  return out.getvalue()


def mean_std(values: list[float]) -> str:
  """'3.214 ± 0.012' (sample std over seeds); one value alone; '' for none."""
  values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
  if not values:
    return ''
  if len(values) == 1:
    return f'{values[0]:.4g}'
  return f'{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}'


def _signed(values: list[float]) -> str:
  text = mean_std(values)
  return text if not text or text.startswith('-') else '+' + text


def _metric_columns(sweep: Sweep, rows: list[dict]) -> list[str]:
  if sweep.columns:
    return list(sweep.columns)
  return list(dict.fromkeys(key for row in rows for key in row if key.startswith('eval/')))


BASELINE = 'baseline'  # a point of this name gets every other point's paired difference to it


def paired_differences(sweep: Sweep, rows: list[dict], point: str) -> list[float]:
  """`point`'s final METRIC minus the baseline's, seed by seed: a seed fixes the initialisation
  and the data order for every point, so the pairs cancel much of the seed noise."""
  def finished(name):
    return {row['seed']: row.get(sweep.metric) for row in rows
            if row['point'] == name and row['state'] == 'finished'
            and isinstance(row.get(sweep.metric), (int, float))}
  base, here = finished(BASELINE), finished(point)
  return [here[seed] - base[seed] for seed in here if seed in base]


def to_markdown(sweep: Sweep, rows: list[dict]) -> str:
  """One row per point; every metric as mean ± std over the point's finished seeds (n); with a
  point named 'baseline', each point's paired difference to it."""
  metrics = _metric_columns(sweep, rows) + [f'best {sweep.metric}']
  paired = BASELINE in sweep.points
  delta = [f'Δ {sweep.metric} vs baseline (paired)'] if paired else []
  # Points with bases of their own (add(..., config=...)) name their config.
  configs = ['config'] if any(run.config_spec != sweep.base for run in sweep.runs) else []
  header = ['point', *configs, *sweep.swept_keys, 'n', *metrics, *delta, 'step', 'time (s)']
  table = []
  for point in sweep.points:
    runs = [row for row in rows if row['point'] == point]
    finished = [row for row in runs if row['state'] == 'finished']
    states = sorted({row['state'] for row in runs} - {'finished'})
    cells = [point + (f' ({", ".join(states)})' if states else ''),
             *[f'`{runs[0][key]}`' for key in configs],
             *[runs[0][key] for key in sweep.swept_keys], str(len(finished)),
             *[mean_std([row.get(m) for row in finished]) for m in metrics],
             *([_signed(paired_differences(sweep, rows, point))] if paired else []),
             mean_std([row['step'] for row in finished]),
             mean_std([row['seconds'] for row in finished])]
    table.append(cells)
  goal = 'lower' if sweep.goal == 'min' else 'higher'
  return (f'Sweep `{sweep.name}` ({sweep.path}), base `{sweep.base}`; mean ± sample std over '
          f'the n finished seeds of {list(sweep.seeds)}; best {sweep.metric}: {goal} is better.'
          '\n\n' + _markdown_table(header, table) + held_out_markdown(sweep, rows))


def _markdown_table(header: list[str], table: list[list[str]]) -> str:
  lines = ['| ' + ' | '.join(map(str, cells)) + ' |' for cells in [header, *table]]
  lines.insert(1, '|' + '---|' * len(header))
  return '\n'.join(lines) + '\n'


# What a point's evaluation reports besides the task metrics: without a baseline or a clean
# subset to tell them apart, these are left out of the held-out table.
_NOT_TASK_METRICS = ('loss', 'perplexity', 'token_accuracy', 'z_loss', 'examples', 'step',
                     'clean_examples', 'baseline')


def held_out_markdown(sweep: Sweep, rows: list[dict]) -> str:
  """The points' evaluations after training, one row per point and task metric: the model,
  the trivial baseline, and both on the clean subset; '' when no point has one."""
  table = []
  for point in sweep.points:
    finished = [row for row in rows if row['point'] == point and row['state'] == 'finished']
    run = next(run for run in sweep.runs if run.point == point)
    if run.evaluate is None or not finished:
      continue
    split = next((key.split('/')[0] for key in finished[0] if key.endswith('/examples')), None)
    if split is None:  # its eval_<split>.json is gone
      continue

    def cell(key):
      return mean_std([row.get(f'{split}/{key}') for row in finished])
    reported = [key.split('/', 1)[1] for key in finished[0]
                if key.startswith(split + '/') and key.count('/') == 1]
    # The task metrics are those the baseline or the clean subset was scored on too.
    names = ([name for name in reported if f'{split}/baseline/{name}' in finished[0]
              or f'{split}/clean/{name}' in finished[0]]
             or [name for name in reported if name not in _NOT_TASK_METRICS])
    for name in names:
      table.append([point, split, cell('examples'), name, cell(name), cell('baseline/' + name),
                    finished[0].get(split + '/baseline', ''), cell('clean_examples'),
                    cell('clean/' + name), cell('clean_baseline/' + name), cell('step')])
  if not table:
    return ''
  header = ['point', 'split', 'examples', 'metric', 'score', 'baseline', 'baseline is',
            'clean examples', 'clean score', 'clean baseline', 'checkpoint step']
  return ('\nEvaluation after training (each point\'s `evaluate`): the task metrics beside the '
          'trivial baseline on the same examples, and both on the clean subset (no n-gram of '
          'eval.decontaminate_ngram words shared with the pretraining text) where one was '
          'asked for.\n\n' + _markdown_table(header, table))


def write(sweep: Sweep, root: str, known: dict | None = None) -> list[dict]:
  """Rewrites results.csv, results.md and the plots from the runs' directories."""
  from lm_jax.sweep import plots  # matplotlib only when tables are written
  rows = collect(sweep, root, known)
  directory = sweep_dir(sweep, root)
  os.makedirs(directory, exist_ok=True)
  atomic_files.write_text(os.path.join(directory, 'results.csv'), to_csv(rows))
  atomic_files.write_text(os.path.join(directory, 'results.md'), to_markdown(sweep, rows))
  plots.write(sweep, root, rows)
  return rows
