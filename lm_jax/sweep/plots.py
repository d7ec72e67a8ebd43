"""A sweep's plots, PNGs beside its tables: the chosen metric against each swept axis
(`metric_by_axis.png`) and every run's learning curves overlaid (`learning_curves.png`)."""
import os
import statistics

import matplotlib

matplotlib.use('Agg')  # files only: no display on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402

from lm_jax import atomic_files  # noqa: E402
from lm_jax.sweep.spec import Sweep  # noqa: E402
from lm_jax.train import metrics_writer  # noqa: E402

TRAIN_CURVE = 'train/loss'


def axis_lines(sweep: Sweep, rows: list[dict], key: str) -> list[tuple[str, list, list]]:
  """[(label, x values, [metric values per x])] for axis `key`: the points that differ only in
  `key` form one line (one factor at a time: the baseline and that factor's points; a product:
  one line per combination of the other keys). Lines with a single x are left out."""
  others = [k for k in sweep.swept_keys if k != key]
  groups = {}
  for row in rows:
    value = row.get(sweep.metric)
    if row['state'] != 'finished' or value is None:
      continue
    signature = tuple(row[k] for k in others)
    groups.setdefault(signature, {}).setdefault(row[key], []).append(value)
  lines = []
  for signature, by_x in groups.items():
    if len(by_x) < 2:
      continue
    label = ', '.join(f'{k.rsplit(".", 1)[-1]}={v}' for k, v in zip(others, signature))
    lines.append((label, list(by_x), list(by_x.values())))
  return lines


def plot_by_axis(sweep: Sweep, rows: list[dict], path: str) -> bool:
  keys = [key for key in sweep.swept_keys if axis_lines(sweep, rows, key)]
  if not keys:
    return False
  figure, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys) + 1, 3.4), squeeze=False,
                              sharey=True)
  for axis, key in zip(axes[0], keys):
    for label, xs, values in axis_lines(sweep, rows, key):
      positions = range(len(xs))  # categorical: values may be names, numbers or booleans
      means = [statistics.mean(v) for v in values]
      stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values]
      axis.errorbar(positions, means, yerr=stds, marker='o', capsize=4, label=label or None)
      for x, vs in zip(positions, values):  # every seed, so the noise is visible
        axis.scatter([x] * len(vs), vs, color='grey', s=10, zorder=3)
      axis.set_xticks(list(positions), [str(x) for x in xs], rotation=20)
    axis.set_xlabel(key)
    axis.grid(alpha=0.3)
    if len(axis_lines(sweep, rows, key)) > 1:
      axis.legend(fontsize=7)
  axes[0][0].set_ylabel(f'final {sweep.metric}')
  figure.suptitle(f'{sweep.name}: final {sweep.metric} (mean ± std over seeds, grey: each seed)',
                  fontsize=9)
  _save(figure, path)
  return True


def plot_learning_curves(sweep: Sweep, root: str, path: str) -> bool:
  curves = [(sweep.metric, 'eval'), (TRAIN_CURVE, 'train')]
  figure, axes = plt.subplots(1, 2, figsize=(11, 4))
  colors = {point: f'C{i % 10}' for i, point in enumerate(sweep.points)}
  drawn = False
  for run in sweep.runs:
    try:
      rows = metrics_writer.read_metrics(sweep.workdir(root, run))
    except FileNotFoundError:
      continue
    for axis, (name, _) in zip(axes, curves):
      points = [(row['step'], row[name]) for row in rows if name in row]
      if points:
        drawn = True
        first_seed = run.seed == sweep.seeds[0]
        axis.plot(*zip(*points), color=colors[run.point], linewidth=1.2 if first_seed else 0.7,
                  alpha=1.0 if first_seed else 0.6, label=run.point if first_seed else None)
  if not drawn:
    plt.close(figure)
    return False
  for axis, (name, _) in zip(axes, curves):
    axis.set_xlabel('step')
    axis.set_ylabel(name)
    axis.grid(alpha=0.3)
  axes[1].legend(fontsize=7)
  figure.suptitle(f'{sweep.name}: every run (thin lines: further seeds)', fontsize=9)
  _save(figure, path)
  return True


def _save(figure, path: str) -> None:
  figure.tight_layout()
  atomic_files.replace_file(path, lambda tmp: figure.savefig(tmp, dpi=110, format='png'))
  plt.close(figure)


def write(sweep: Sweep, root: str, rows: list[dict]) -> None:
  directory = os.path.join(root, sweep.name)
  plot_by_axis(sweep, rows, os.path.join(directory, 'metric_by_axis.png'))
  plot_learning_curves(sweep, root, os.path.join(directory, 'learning_curves.png'))
