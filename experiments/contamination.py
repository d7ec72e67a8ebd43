"""How much of each fine-tuning task's test split the pretraining corpus already holds: GPT-3's
13-gram overlap (lm_jax/evaluation/contamination.py) between the embedded corpus the tiny models
pretrain on (`stdlib_docs`, the standard library's docstrings) and the test splits of the tasks
configs/sweeps/finetune_tasks.py reports (which also scores each task on its clean subset). The
docstring tasks are built from docstrings too, so some overlap is expected; this measures how
much.

  python experiments/contamination.py [--data_dir DIR] [--n 13]

Prints a markdown table and ends with one JSON line.
"""
import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from lm_jax.config.schema import load_config  # noqa: E402
from lm_jax.data import pipeline, sources  # noqa: E402
from lm_jax.evaluation import contamination, held_out  # noqa: E402

PRETRAINING = 'configs/t5_small.py:tiny'
TASKS = ['configs/finetune_classification.py:tiny', 'configs/finetune_summarization.py:cpu',
         'configs/finetune_qa.py:cpu', 'configs/finetune_translation.py:cpu']


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--data_dir', default=None)
  parser.add_argument('--n', type=int, default=contamination.N)
  args = parser.parse_args()
  pretraining = load_config(os.path.join(REPO, PRETRAINING))
  pretraining.data.data_dir = args.data_dir
  corpus = sources.load_text_source(pretraining.data, pretraining.data.train_split)
  corpus_texts = [corpus[i] for i in range(len(corpus))]
  print(f'pretraining corpus: {pretraining.data.dataset} {pretraining.data.train_split}, '
        f'{len(corpus_texts)} documents, '
        f'{sum(len(contamination.words(t)) for t in corpus_texts):,} words; n = {args.n}\n')
  print('| task | test examples | shorter than n words | dirty (input or target) | dirty '
        'inputs | dirty targets |\n|---|---|---|---|---|---|')
  report = {}
  for spec in TASKS:
    config = load_config(os.path.join(REPO, spec))
    config.data.data_dir = args.data_dir
    test = pipeline.task_examples(config.data, 'test')
    overlap = held_out.overlap(corpus_texts, [test[i] for i in range(len(test))], args.n)
    report[config.data.task] = {
        'examples': overlap.examples, 'too_short': overlap.too_short,
        'dirty': overlap.dirty_fraction, 'dirty_inputs': overlap.field_fraction('input'),
        'dirty_targets': overlap.field_fraction('target')}
    print(f'| `{config.data.task}` | {overlap.examples} | {overlap.too_short} | '
          f'{100 * overlap.dirty_fraction:.1f}% | {100 * overlap.field_fraction("input"):.1f}% | '
          f'{100 * overlap.field_fraction("target"):.1f}% |', flush=True)
  print(json.dumps({'n': args.n, 'corpus': pretraining.data.dataset, 'tasks': report}))


if __name__ == '__main__':
  main()
