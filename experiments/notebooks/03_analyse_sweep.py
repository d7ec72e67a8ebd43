# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Analyse a sweep
#
# Read a sweep's `results.csv` and its runs' metrics, and draw the ablation plots:
# the chosen metric per point with its seed noise, and the learning curves. By default the
# tiny-T5 ablation (`configs/sweeps/t5_tiny_ablations.py`), run with
# `python -m lm_jax.sweep --sweep=configs/sweeps/t5_tiny_ablations.py` (about 45 minutes on a
# 2-core CPU); the test suite runs a two-point sweep of a few steps instead.

# %%
# Install lm_jax from its repository with the JAX release it was tested with (Colab ships its
# own, possibly newer, JAX). In a clone where lm_jax is installed (`pip install -e .`) this
# cell installs nothing. On a TPU runtime the [tpu] extra adds libtpu; on a GPU one, [cuda12].
import importlib.util
import os
import subprocess
import sys

REPO_URL = os.environ.get('LM_JAX_REPO', 'https://github.com/<owner>/lm_jax')  # this repository
if importlib.util.find_spec('lm_jax') is None:
  subprocess.run(['git', 'clone', '--depth=1', REPO_URL, 'lm_jax'], check=True)
  on_tpu = 'COLAB_TPU_ADDR' in os.environ or os.path.exists('/dev/accel0')
  on_gpu = subprocess.run(['which', 'nvidia-smi'], capture_output=True).returncode == 0
  extra = '[tpu]' if on_tpu else '[cuda12]' if on_gpu else ''
  subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '-e', f'lm_jax{extra}'],
                 check=True)
  sys.path.insert(0, os.path.abspath('lm_jax'))  # an editable install is seen on restart only
# Work from the repository root, where configs/ and runs/ are.
os.chdir(os.path.dirname(os.path.dirname(importlib.util.find_spec('lm_jax').origin)))

# LM_JAX_NOTEBOOK_TEST=1 (the test suite) shrinks every run to seconds on a CPU.
TEST = os.environ.get('LM_JAX_NOTEBOOK_TEST') == '1'

# %%
import importlib.metadata

import jax

for package in ('jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint'):
  print(f'{package:18s} {importlib.metadata.version(package)}')
print('tested ranges:', [line.strip() for line in open('requirements.txt')
                         if line.startswith(('jax', 'flax', 'optax', 'orbax'))])
print(f'{jax.device_count()} device(s):', jax.devices())

# %%
import tempfile

from lm_jax.sweep import load_sweep, results, runner

SWEEP_FILE, ROOT = 'configs/sweeps/t5_tiny_ablations.py', 'runs'
if TEST:  # a sweep of two points, trained here in seconds
  ROOT = tempfile.mkdtemp()
  SWEEP_FILE = os.path.join(ROOT, 'tiny_test_sweep.py')
  with open(SWEEP_FILE, 'w') as f:
    f.write("BASE = 'configs/t5_small.py:tiny'\nSEEDS = (0,)\n"
            "COMMON = {'num_train_steps': 6, 'eval_every_steps': 3, "
            "'checkpoint_every_steps': 6, 'per_device_batch_size': 2, 'num_eval_batches': 1, "
            "'num_samples': 0}\n"
            "def points(add):\n  add('baseline')\n"
            "  add('rope', {'model.position_embedding': 'rope'})\n")
sweep = load_sweep(SWEEP_FILE, ROOT)
if TEST:
  runner.run_sweep(sweep, ROOT, parallel=0)
print(open(os.path.join(ROOT, sweep.name, 'results.md')).read())

# %% [markdown]
# ## The table
# `results.csv` has a row per run (point x seed); every column is a string, as in any CSV.

# %%
import csv
import statistics

with open(os.path.join(ROOT, sweep.name, 'results.csv')) as f:
  rows = [row for row in csv.DictReader(f) if row['state'] == 'finished']
by_point = {}
for row in rows:
  by_point.setdefault(row['point'], []).append(float(row[sweep.metric]))
for point, values in by_point.items():
  spread = statistics.stdev(values) if len(values) > 1 else float('nan')
  print(f'{point:22s} {sweep.metric} {statistics.mean(values):.4f} ± {spread:.4f} '
        f'(n={len(values)})')

# %% [markdown]
# ## The metric per point, every seed shown
# The difference to the baseline, per seed: a seed fixes the initialisation, the data order and
# the eval examples' masks for every point, so differences are paired.

# %%
import matplotlib.pyplot as plt

baseline = {row['seed']: float(row[sweep.metric]) for row in rows if row['point'] == 'baseline'}
points = list(by_point)
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for i, point in enumerate(points):
  values = by_point[point]
  left.scatter([i] * len(values), values, color='grey', s=12)
  left.errorbar([i], [statistics.mean(values)],
                yerr=[statistics.stdev(values) if len(values) > 1 else 0], marker='o',
                capsize=4, color='C0')
  deltas = [float(row[sweep.metric]) - baseline[row['seed']] for row in rows
            if row['point'] == point and row['seed'] in baseline]
  right.scatter([i] * len(deltas), deltas, color='C1', s=14)
for axis, label in ((left, sweep.metric), (right, f'{sweep.metric} - baseline (same seed)')):
  axis.set_xticks(range(len(points)), points, rotation=30, ha='right')
  axis.set_ylabel(label)
  axis.grid(alpha=0.3)
right.axhline(0, color='black', linewidth=0.8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Learning curves
# Every run's eval metric from its own metrics.jsonl.

# %%
from lm_jax.train import metrics_writer

for run in sweep.runs:
  workdir = sweep.workdir(ROOT, run)
  if not os.path.exists(os.path.join(workdir, 'metrics.jsonl')):
    continue
  curve = [(row['step'], row[sweep.metric]) for row in metrics_writer.read_metrics(workdir)
           if sweep.metric in row]
  plt.plot(*zip(*curve), color=f'C{sweep.points.index(run.point) % 10}',
           label=run.point if run.seed == sweep.seeds[0] else None)
plt.xlabel('step')
plt.ylabel(sweep.metric)
plt.legend(fontsize=7)
plt.show()

# %% [markdown]
# The runner draws the same two views into the sweep's directory after every run:

# %%
from IPython.display import Image, display

for name in ('metric_by_axis.png', 'learning_curves.png'):
  path = os.path.join(ROOT, sweep.name, name)
  if os.path.exists(path):
    display(Image(filename=path))
