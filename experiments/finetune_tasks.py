"""Pretrain the tiny T5, a twice as wide T5 and the tiny BERT on the embedded corpus, fine-tune
them on each offline task, and compare the scores with trivial baselines (an estimated 2½ hours
on 2 CPU cores, most of it the code summaries, the docstring QA and translation, ~40, ~80 and
~45 minutes).

  python experiments/finetune_tasks.py [--workdir runs/finetune_tasks] [--data_dir DIR]

Each fine-tuning run is `configs/finetune_<task>.py:<variant>` with `--config.init_from` set to
the pretraining workdir (for translation, the QA run's: see RUNS), exactly as on the command
line; the scores are eval mode's on the best checkpoint (chosen on validation) over the test
split where the dataset has one. Baselines:
copying the input (without its task prefix) for translation and summarization; always
answering the most frequent training class for classification; for QA the strongest of copying the
question, always giving the one training answer that scores best on the training questions, and
(when a context is given) the description of the context's first entry or its first sentence.
Prints a markdown table and ends with one JSON line.
"""
import argparse
import collections
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from lm_jax.config.schema import load_config, override  # noqa: E402
from lm_jax.data import pipeline, sources  # noqa: E402
from lm_jax.data.builders import python_reference_qa  # noqa: E402
from lm_jax.evaluation import metrics  # noqa: E402
from lm_jax import modes  # noqa: E402
from lm_jax.train import loop  # noqa: E402

# The tiny configs, pretrained ten times longer than their defaults (about 1, 2 and 2 minutes).
PRETRAINING = {'t5': ('configs/t5_small.py:tiny', 2000), 'bert': ('configs/bert_base.py:tiny', 1000),
               't5_mini': ('configs/t5_small.py:mini', 2000)}
# (config, what it fine-tunes: a pretrained model or an earlier run, split the table reports,
# cap on examples decoded there). Translation starts from the QA run: that intermediate task
# taught the mini T5 to copy, which translation of UI messages needs and does not teach it alone.
RUNS = [
    ('configs/finetune_summarization.py:cpu', 't5_mini', 'test', 2000),
    ('configs/finetune_classification.py:tiny', 't5', 'test', 2000),
    ('configs/finetune_classification.py:bert_tiny', 'bert', 'test', 2000),
    ('configs/finetune_qa.py:cpu', 't5_mini', 'test', 2000),
    ('configs/finetune_translation.py:cpu', 'qa:cpu', 'test', None),
]


def _config(spec, data_dir, **overrides):
  config = load_config(os.path.join(REPO, spec))
  config.data.data_dir = data_dir
  return override(config, overrides)


_CONTEXT = ' context: '


def _strip_prefix(text: str) -> str:
  """'translate English to German: Hello' -> 'Hello' (the task prefix is not the input)."""
  return text.split(': ', 1)[1] if ': ' in text else text


def _lead_entry(inputs: str) -> str:
  """The description of the context's first 'name(args): description' line (the library
  reference's and the docstring QA's listings; a context without one: its first line)."""
  lines = inputs.split(_CONTEXT, 1)[1].split('\n')
  first = next((line for line in lines if '): ' in line), lines[0])
  return first.split('): ', 1)[1] if '): ' in first else first


def _best_constant_answer(train, metric_names, key, limit=200):
  """The training target that, answered to every one of the first `limit` training examples,
  scores best on `key` there."""
  chosen = [train[i] for i in range(min(limit, len(train)))]
  references = [e.references for e in chosen]
  return max((e.targets for e in chosen), key=lambda answer: metrics.compute(
      metric_names, [answer] * len(chosen), references)[key])


def baseline(config, split, limit):
  """(name, scores) of the trivial baseline on the first `limit` examples of `split`."""
  examples = pipeline.task_examples(config.data, split)
  chosen = [examples[i] for i in range(len(examples) if limit is None else
                                       min(limit, len(examples)))]
  references = [e.references for e in chosen]
  names = config.eval.metrics
  train = pipeline.task_examples(config.data, config.data.train_split)
  if set(names) & {'accuracy', 'f1'}:
    majority = collections.Counter(train[i].targets for i in range(len(train))).most_common(1)[0][0]
    return f'majority class ({majority})', metrics.compute(
        names, [majority] * len(chosen), references)
  copy = ('copy the input', metrics.compute(
      names, [_strip_prefix(e.inputs) for e in chosen], references))
  if 'squad' not in names:
    return copy
  constant = _best_constant_answer(train, names, 'squad_f1')
  candidates = [copy, ('one training answer for all', metrics.compute(
      names, [constant] * len(chosen), references))]
  if all(_CONTEXT in e.inputs for e in chosen):  # SQuAD's lead baselines
    leads = [_lead_entry(e.inputs) for e in chosen]
    candidates += [
        ("the context's first entry", metrics.compute(names, leads, references)),
        ("the first sentence of the context's first entry", metrics.compute(
            names, list(map(python_reference_qa.first_sentence, leads)), references))]
  return max(candidates, key=lambda baseline: baseline[1]['squad_f1'])


def _has_split(config, split):
  try:
    pipeline.task_examples(config.data, split)
    return True
  except ValueError:
    return False


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--workdir', default=os.path.join(REPO, 'runs', 'finetune_tasks'))
  parser.add_argument('--data_dir', default=None, help='TFDS data dir (default: TFDS default).')
  args = parser.parse_args()
  data_dir = args.data_dir or sources.resolved_data_dir(load_config(
      os.path.join(REPO, PRETRAINING['t5'][0])).data)

  timings = {}
  pretrained = {}
  for name, (spec, steps) in PRETRAINING.items():
    workdir = os.path.join(args.workdir, f'pretrain_{name}')
    start = time.perf_counter()
    loop.train_and_evaluate(_config(spec, data_dir, num_samples=0, num_train_steps=steps,
                                    eval_every_steps=steps, checkpoint_every_steps=steps),
                            workdir)
    timings[f'pretrain_{name}'] = time.perf_counter() - start
    pretrained[name] = workdir

  rows = []
  for spec, backbone, split, limit in RUNS:
    name = spec.split('/')[-1].replace('.py', '').replace('finetune_', '')
    workdir = os.path.join(args.workdir, name.replace(':', '_'))
    config = _config(spec, data_dir, init_from=pretrained[backbone], num_samples=2)
    start = time.perf_counter()
    loop.train_and_evaluate(config, workdir)
    timings[name] = time.perf_counter() - start
    if not _has_split(config, split):
      split = 'validation'
    eval_config = _config(spec, data_dir, init_from=pretrained[backbone], mode='eval')
    eval_config.eval.update(checkpoint='best', split=split, num_examples=limit)
    result = modes.evaluate_checkpoint(eval_config, workdir, [])
    baseline_name, baseline_scores = baseline(eval_config, split, limit)
    pretrained[name] = workdir  # a later run may start from this one
    rows.append({'run': name, 'task': config.data.task, 'split': split,
                 'examples': result['num_predictions'], 'best_step': result['step'],
                 'fine_tuned': {k: result['metrics'][k] for k in baseline_scores},
                 'baseline': baseline_name, 'baseline_scores': baseline_scores,
                 'seconds': round(timings[name], 1)})

  print('\n| run | task | split (examples) | metric | fine-tuned | baseline | best step | time |')
  print('|---|---|---|---|---|---|---|---|')
  for r in rows:
    for metric, value in r['fine_tuned'].items():
      print(f"| {r['run']} | {r['task']} | {r['split']} ({r['examples']}) | {metric} | "
            f"{value:.1f} | {r['baseline_scores'][metric]:.1f} ({r['baseline']}) | "
            f"{r['best_step']} | {r['seconds']:.0f} s |")
  print(json.dumps({'rows': rows, 'pretraining_seconds': {k: round(v, 1) for k, v in
                                                          timings.items() if 'pretrain' in k}}))


if __name__ == '__main__':
  main()
