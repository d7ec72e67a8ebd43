"""Pretraining with human preferences at CPU scale (Korbak et al. 2023, the PEP8 task): the six
objectives of configs/phf_pep8.py on the tiny GPT with the same token budget and seeds, and
fine-tuning with feedback: each objective for the second half of the budget, from an MLE run
trained on the first half.

  python experiments/preference_pretraining.py   # this sweep, then KL, the table and the plot

or the training alone: python -m lm_jax.sweep --sweep=configs/sweeps/preference_pretraining.py

expect: ~80 minutes on 2 CPU cores (24 runs, 2026-12-08); re-running resumes where it stopped.

Budget: 1,600 steps of 16 x 128 tokens (3.3M tokens) per pretraining run; the fine-tuning rows
train 800 steps from an 800-step MLE run. Misalignment every 400 steps from 50 unconditional
samples and 25 held-out docstring prompts of up to 128 tokens (temperature 0.7, top-p 0.9).
"""
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    '_phf_pep8', os.path.join(os.path.dirname(__file__), '..', 'phf_pep8.py'))
_phf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_phf)

BASE = 'configs/phf_pep8.py:mle,tiny'
SEEDS = (0, 1)
_STEPS = 1600
COMMON = {'eval_every_steps': 400, 'checkpoint_every_steps': 400, 'log_every_steps': 50,
          'num_eval_batches': 16, 'preference.eval_samples': 50,
          'preference.eval_prompts': 25}
METRIC, GOAL = 'eval/misalignment', 'min'
COLUMNS = ('eval/misalignment', 'eval/misalignment_max@25', 'eval/misalignment_prompted',
           'eval/loss', 'eval/loss_aligned', 'eval/misalignment_misaligned_prompt')


def _steps(n: int) -> dict:
  return {'num_train_steps': n, 'optimizer.warmup_steps': n // 100}


def points(add):
  for objective in _phf.OBJECTIVES:
    add(objective, _steps(_STEPS), config=f'configs/phf_pep8.py:{objective},tiny')
  add('mle_half', _steps(_STEPS // 2), config='configs/phf_pep8.py:mle,tiny')
  for objective in _phf.OBJECTIVES[1:]:
    add(f'finetune_{objective}', {**_steps(_STEPS // 2), 'init_from': '@mle_half'},
        config=f'configs/phf_pep8.py:{objective},tiny')
