"""The trivial baseline a task's score should be read against, on the same examples:

- classification: always the most frequent training class;
- translation and summarization: the input copied (without its task prefix);
- question answering: the best of copying the question, one training answer given to every
  question, and (when a context is given) SQuAD's lead baselines, the description of the
  context's first entry or its first sentence.

A model that does not beat its baseline has learnt nothing the task measures.
"""
import collections
from collections.abc import Sequence

from lm_jax.data.builders import python_reference_qa
from lm_jax.data.tasks.task import Example, without_prefix
from lm_jax.evaluation import metrics

CONTEXT = ' context: '  # how the QA tasks join a question and its context
CONSTANT_ANSWER_CANDIDATES = 200  # training answers tried as the one answer for all


def _lead_entry(inputs: str) -> str:
  """The description of the context's first 'name(args): description' line (the library
  reference's and the docstring QA's listings; a context without one: its first line)."""
  lines = inputs.split(CONTEXT, 1)[1].split('\n')
  first = next((line for line in lines if '): ' in line), lines[0])
  return first.split('): ', 1)[1] if '): ' in first else first


def _best_constant_answer(metric_names, train: Sequence[Example]) -> str:
  """The training target that, given to every one of the first training examples, scores
  best (squad_f1) there."""
  chosen = [train[i] for i in range(min(CONSTANT_ANSWER_CANDIDATES, len(train)))]
  references = [e.references for e in chosen]
  return max((e.targets for e in chosen), key=lambda answer: metrics.compute(
      metric_names, [answer] * len(chosen), references)['squad_f1'])


def predictions(metric_names, examples: Sequence[Example],
                train: Sequence[Example]) -> tuple[str, list[str]]:
  """(the baseline's name, its prediction for each of `examples`); `train` is the task's
  training split, where the majority class and the constant answer are chosen."""
  names = tuple(metric_names)
  if set(names) & {'accuracy', 'f1'}:
    counts = collections.Counter(train[i].targets for i in range(len(train)))
    majority = counts.most_common(1)[0][0]
    return f'majority class ({majority})', [majority] * len(examples)
  copy = ('copy the input', [without_prefix(e.inputs) for e in examples])
  if 'squad' not in names:
    return copy
  candidates = [copy, ('one training answer for all',
                       [_best_constant_answer(names, train)] * len(examples))]
  if examples and all(CONTEXT in e.inputs for e in examples):
    leads = [_lead_entry(e.inputs) for e in examples]
    candidates += [("the context's first entry", leads),
                   ("the first sentence of the context's first entry",
                    [python_reference_qa.first_sentence(lead) for lead in leads])]
  references = [e.references for e in examples]
  return max(candidates, key=lambda candidate: metrics.compute(
      names, candidate[1], references)['squad_f1'])
