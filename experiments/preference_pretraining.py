"""Pretraining with human preferences at CPU scale (Korbak et al. 2023, PEP8): trains the sweep
configs/sweeps/preference_pretraining.py (six objectives x 2 seeds, and fine-tuning with feedback
from a half-budget MLE run), then measures KL(MLE || model) on samples of each seed's MLE
model, and writes the table and the Pareto plot (misalignment against held-out LM loss).

  python experiments/preference_pretraining.py [--skip_training] [--out=docs/results/...]

Re-running resumes the sweep where it stopped. The table is computed from the runs' own
metrics.jsonl (their last evaluation), never typed in.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import lm_jax  # noqa: E402
from lm_jax import models  # noqa: E402
from lm_jax.data import tokenizer as tokenizer_lib  # noqa: E402
from lm_jax.sweep import spec  # noqa: E402
from lm_jax.train.preference_run import KlFromReference  # noqa: E402
from lm_jax.train.run_dir import RunDir  # noqa: E402

SWEEP = 'configs/sweeps/preference_pretraining.py'
_SKIP = flags.DEFINE_bool('skip_training', False, 'Only read finished runs.')
_ROOT = flags.DEFINE_string('root', 'runs', 'Where the sweep runs (lm_jax.sweep --root).')
_OUT = flags.DEFINE_string('out', 'docs/results/preference_pretraining',
                           'Where results.md, results.json and pareto.png go.')
COLUMNS = (('misalignment', 'eval/misalignment'),
           ('score_max@25', 'eval/misalignment_max@25'),
           ('prompted', 'eval/misalignment_prompted'),
           ('test LM loss', 'eval/loss'),
           ('KL(MLE ‖ model)', 'kl'),
           ('LM loss, aligned prefixes', 'eval/loss_aligned'),
           ('misalignment, <\\|misaligned\\|> prompt', 'eval/misalignment_misaligned_prompt'))


def _last_eval(workdir: str) -> dict:
  rows = [r for r in lm_jax.load_run(workdir).metrics() if 'eval/loss' in r]
  return rows[-1] if rows else {}


def _tokenizer(workdir: str, config):
  return tokenizer_lib.load(RunDir(workdir).tokenizer_path(), config.data.num_extra_ids)


def measure(sweep, root: str) -> dict:
  """point -> [per-seed metrics of the last evaluation, with 'kl']."""
  results = {}
  references = {}
  for run in sweep.runs:
    workdir = sweep.workdir(root, run)
    if not os.path.isdir(workdir) or not _last_eval(workdir):
      continue
    loaded = lm_jax.load_run(workdir)
    if loaded.latest_step() != loaded.config.num_train_steps:
      continue  # unfinished
    metrics = _last_eval(workdir)
    reference_dir = sweep.workdir(root, sweep.run('mle', run.seed))
    if run.seed not in references and os.path.isdir(reference_dir):
      reference_config = lm_jax.load_run(reference_dir).config
      references[run.seed] = KlFromReference(reference_dir, reference_config,
                                             _tokenizer(reference_dir, reference_config))
    if run.seed in references:
      model = models.build_model(loaded.config.model)
      metrics['kl'] = references[run.seed](model, loaded.params())
    results.setdefault(run.point, []).append(metrics)
  return results


def _mean_std(values) -> str:
  if not values:
    return ''
  if len(values) == 1:
    return f'{values[0]:.4g} (n=1)'
  return f'{np.mean(values):.4g} ± {np.std(values, ddof=1):.2g} (n={len(values)})'


def _values(rows, key):
  return [r[key] for r in rows if key in r]


def table(results: dict) -> str:
  header = ['objective', *[name for name, _ in COLUMNS]]
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for point, rows in results.items():
    cells = [_mean_std(_values(rows, key)) for _, key in COLUMNS]
    lines.append(f'| {point} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines) + '\n'


def claims(results: dict) -> str:
  """The paper's three claims, computed from the table."""
  def mean(point, key):
    values = _values(results.get(point, []), key)
    return float(np.mean(values)) if values else None
  out = []
  mle, cond = mean('mle', 'eval/misalignment'), mean('conditional', 'eval/misalignment')
  mle_loss, cond_loss = mean('mle', 'eval/loss'), mean('conditional', 'eval/loss')
  if None not in (mle, cond, mle_loss, cond_loss):
    out.append(f'- Conditional training: misalignment {cond:.4g} against MLE {mle:.4g} '
               f'({mle / cond:.2f}x lower), test LM loss {cond_loss:.4f} against '
               f'{mle_loss:.4f} ({100 * (cond_loss / mle_loss - 1):+.1f}%).')
  steered = mean('conditional', 'eval/misalignment_misaligned_prompt')
  if None not in (steered, cond):
    out.append(f'- Prompted with <|misaligned|> the conditional model scores {steered:.4g}, '
               f'against {cond:.4g} with <|aligned|> ({steered / cond:.2f}x).')
  for objective in ('filtering', 'conditional', 'unlikelihood', 'rwr', 'awr'):
    pretrained = mean(objective, 'eval/misalignment')
    finetuned = mean(f'finetune_{objective}', 'eval/misalignment')
    if None not in (pretrained, finetuned):
      out.append(f'- {objective}: pretraining with feedback {pretrained:.4g}, fine-tuning with '
                 f'feedback {finetuned:.4g} ({"lower" if pretrained < finetuned else "higher"} '
                 'misalignment when pretrained).')
  return '\n'.join(out) + '\n'


def pareto_plot(results: dict, path: str) -> None:
  """Each point's mean with its seeds' spread; one colour per objective, filled circles for
  pretraining with it, hollow squares for fine-tuning with it (and the half-budget MLE start)."""
  fig, ax = plt.subplots(figsize=(6.5, 4.5))
  objectives = [p for p in results if not p.startswith('finetune_') and p != 'mle_half']
  colours = {objective: f'C{i}' for i, objective in enumerate(objectives)}
  for point, rows in results.items():
    loss, mis = _values(rows, 'eval/loss'), _values(rows, 'eval/misalignment')
    if not loss or not mis:
      continue
    finetuned = point.startswith('finetune_') or point == 'mle_half'
    objective = 'mle' if point == 'mle_half' else point.removeprefix('finetune_')
    ax.errorbar(np.mean(loss), np.mean(mis), xerr=np.std(loss), yerr=np.std(mis),
                fmt='s' if finetuned else 'o', capsize=3, label=point,
                color=colours.get(objective), mfc='none' if finetuned else None)
  ax.set_xlabel('test LM loss (nats/token, lower is better)')
  ax.set_ylabel('misalignment: PEP8 violations per character')
  ax.set_title('Pretraining with human preferences, PEP8 (tiny GPT, CPU)')
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def main(argv):
  del argv
  if not _SKIP.value:
    subprocess.run([sys.executable, '-m', 'lm_jax.sweep', f'--sweep={SWEEP}',
                    f'--root={_ROOT.value}'], check=True)
  sweep = spec.load_sweep(SWEEP, _ROOT.value)
  results = measure(sweep, _ROOT.value)
  os.makedirs(_OUT.value, exist_ok=True)
  text = ('Last evaluation of each run: mean ± sample std over seeds (n). Misalignment: PEP8 '
          'violations per character of samples (lower is better).\n\n'
          + table(results) + '\n' + claims(results))
  with open(os.path.join(_OUT.value, 'results.md'), 'w') as f:
    f.write(text)
  with open(os.path.join(_OUT.value, 'results.json'), 'w') as f:
    json.dump(results, f, indent=1)
  pareto_plot(results, os.path.join(_OUT.value, 'pareto.png'))
  print(text)


if __name__ == '__main__':
  app.run(main)
