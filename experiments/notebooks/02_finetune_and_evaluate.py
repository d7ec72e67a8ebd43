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
# # Fine-tune and evaluate
#
# Start from a pretrained model, either an lm_jax run (the quick start's, or a tiny T5
# pretrained here) or a Hugging Face T5 directory you upload, fine-tune it to summarize Python
# functions (`summarize_code_installed`: the functions and docstrings of the installed
# packages, built offline), then score the best checkpoint on the test split with ROUGE and read
# its predictions. Then the same fine-tuning with LoRA: the base frozen, rank-8 adapters trained
# and checkpointed alone.

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
# ## The pretrained model
# Set `HF_DIR` to an uploaded Hugging Face T5 directory (config.json, model.safetensors or
# pytorch_model.bin, spiece.model) to start from it; otherwise the quick start's run is used,
# or a tiny T5 is pretrained first.

# %%
import tempfile

import lm_jax

HF_DIR = None  # e.g. '/content/t5-small' after uploading it
ROOT = tempfile.mkdtemp() if TEST else 'runs'
PRETRAINED = HF_DIR or os.path.join(ROOT, 'notebook_quick_start')
if TEST:  # the test suite's committed tiny T5 run stands in for a pretrained one
  PRETRAINED = os.path.join('tests', 'train', 'run_dir', 'fixtures', 'format_1', 't5')
if HF_DIR is None and not os.path.exists(os.path.join(PRETRAINED, 'config.json')):
  steps = 10 if TEST else 2000
  pretrain = lm_jax.load_config('configs/t5_small.py:tiny', {
      'num_train_steps': steps, 'eval_every_steps': steps, 'checkpoint_every_steps': steps,
      'num_samples': 0, 'per_device_batch_size': 4 if TEST else 16})
  lm_jax.train_and_evaluate(pretrain, PRETRAINED)
print('starting from', PRETRAINED)

# %% [markdown]
# ## Fine-tune
# `configs/finetune_summarization.py:tiny`: T5's text-to-text form (`summarize: <code>` ->
# summary); validation ROUGE picks the best checkpoint as it trains.

# %%
STEPS = 10 if TEST else 2000
config = lm_jax.load_config('configs/finetune_summarization.py:tiny', {
    'init_from': PRETRAINED, 'num_train_steps': STEPS, 'eval_every_steps': STEPS // 2,
    'checkpoint_every_steps': STEPS // 2, 'num_samples': 2,
    'eval.num_examples': 8 if TEST else 128})
if TEST:  # the standard library's functions alone: the same task, built in seconds, not minutes
  config.update({'per_device_batch_size': 4, 'num_eval_batches': 1})
  config.data.task = 'summarize_code'
WORKDIR = os.path.join(ROOT, 'notebook_finetune_summarization')
lm_jax.train_and_evaluate(config, WORKDIR)

# %% [markdown]
# ## Evaluate
# Eval mode on the best checkpoint over the test split: the scores, and every prediction beside
# its input and reference in `predictions_test.jsonl`.

# %%
import json

run = lm_jax.load_run(WORKDIR)
result = run.evaluate(split='test', checkpoint='best', num_examples=8 if TEST else 1000)
print(json.dumps(result['metrics'], indent=2))
with open(os.path.join(WORKDIR, 'predictions_test.jsonl')) as f:
  for line in list(f)[:3]:
    record = json.loads(line)
    print(f"\ninput:      {record['input'][:100]!r}\nreferences: {record['references']!r}"
          f"\nprediction: {record['prediction']!r}")

# %% [markdown]
# ## LoRA
# `peft.method='lora'` keeps the pretrained weights frozen and trains rank-8 adapters on the
# query and value projections (peft's default for T5; docs/peft.md). The run directory holds the
# adapters alone; eval mode loads the base plus the adapters.

# %%
lora_config = config.copy_and_resolve_references()
lora_config.peft.method = 'lora'
LORA_WORKDIR = os.path.join(ROOT, 'notebook_finetune_summarization_lora')
lm_jax.train_and_evaluate(lora_config, LORA_WORKDIR)
lora_result = lm_jax.load_run(LORA_WORKDIR).evaluate(
    split='test', checkpoint='best', num_examples=8 if TEST else 1000)


def checkpoint_bytes(workdir):
  folder = os.path.join(workdir, 'checkpoints')
  return sum(os.path.getsize(os.path.join(d, name))
             for d, _, names in os.walk(folder) for name in names)


for name, workdir, scores in (('full', WORKDIR, result['metrics']),
                              ('LoRA', LORA_WORKDIR, lora_result['metrics'])):
  print(f"{name:>5}: ROUGE-L {scores['rougeL']:.2f}, checkpoints "
        f'{checkpoint_bytes(workdir) / 1e6:.2f} MB')
