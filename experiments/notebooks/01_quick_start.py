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
# # lm_jax quick start
#
# Pretrain a tiny T5 with span corruption on the embedded corpus (Python's own docstrings),
# plot its loss, continue a prompt, and save and restore Orbax checkpoints. Runs on a Colab
# TPU, GPU or CPU runtime; the same runs as `python -m lm_jax.main --config=...`.

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

# %% [markdown]
# ## A config in Python
# A `configs/` file and variant, with overrides as dotted keys (`--config.<key>=value` on the
# command line). Unknown keys and bad values fail here, naming the key.

# %%
import lm_jax

STEPS = 20 if TEST else 2000
config = lm_jax.load_config('configs/t5_small.py:tiny', {
    'num_train_steps': STEPS, 'eval_every_steps': STEPS // 4,
    'checkpoint_every_steps': STEPS // 4, 'num_samples': 0})
if TEST:
  config.per_device_batch_size = 4
print(config.model)

# %% [markdown]
# ## Pretrain
# Checkpoints (Orbax), metrics.jsonl, TensorBoard events and the run's config go to `WORKDIR`.

# %%
import tempfile

WORKDIR = os.path.join(tempfile.mkdtemp() if TEST else 'runs', 'notebook_quick_start')
last = lm_jax.train_and_evaluate(config, WORKDIR)
print(last)

# %%
import matplotlib.pyplot as plt

run = lm_jax.load_run(WORKDIR)
rows = run.metrics()
for name in ('train/loss', 'eval/loss'):
  points = [(row['step'], row[name]) for row in rows if name in row]
  plt.plot(*zip(*points), marker='o' if name.startswith('eval') else None, label=name)
plt.xlabel('step')
plt.ylabel('cross-entropy')
plt.legend()
plt.show()

# %% [markdown]
# ## Sample text
# The latest checkpoint continues a prompt (span corruption teaches T5 to fill `<extra_id_0>`
# gaps, so a tiny one mostly writes sentinels and common words).

# %%
for text in run.generate(['def read_config(path):\n    """Return the'], max_new_tokens=16):
  print(repr(text))

# %% [markdown]
# ## Orbax checkpoints
# Training saved the whole train state with Orbax every `checkpoint_every_steps`; asking for more
# steps resumes from the latest one instead of starting again. The parameters can also be saved
# and restored on their own with Orbax's `StandardCheckpointer`.

# %%
import numpy as np
import orbax.checkpoint as ocp

print('latest checkpoint: step', run.latest_step())
config.num_train_steps = STEPS + STEPS // 4
lm_jax.train_and_evaluate(config, WORKDIR)  # prints "Resumed from ... at step STEPS"
assert lm_jax.load_run(WORKDIR).latest_step() == config.num_train_steps

params = run.params()
checkpointer = ocp.StandardCheckpointer()
path = os.path.abspath(os.path.join(WORKDIR, 'exported_params'))
checkpointer.save(path, params, force=True)
checkpointer.wait_until_finished()
restored = checkpointer.restore(path)
assert jax.tree.all(jax.tree.map(np.array_equal, params, restored))
print('restored', sum(x.size for x in jax.tree.leaves(restored)), 'parameters from', path)
