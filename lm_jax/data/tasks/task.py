"""What a downstream task is: a TFDS dataset and the T5-style text-to-text preprocessing of its
records (Raffel et al. 2020, appendix D), with the metrics it is scored by; and the registry."""

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

from lm_jax.data import sources


class Example(NamedTuple):
  """One text-to-text example; `references` are the answers a prediction is scored against
  (all of SQuAD's answers; the target itself for other tasks)."""
  inputs: str
  targets: str
  references: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Task:
  """`preprocess(record) -> Example` turns a record of `dataset` (text as str) into an example.

  `metrics` are the default names of lm_jax/evaluation/metrics.py; `labels` the class names a
  classification head predicts (the targets are one of them), None for generation tasks.
  `offline_alternative` is a task of the same kind whose data is prepared offline, suggested
  when `dataset` is a TFDS dataset that is not prepared.
  """
  name: str
  dataset: str
  preprocess: Callable[[dict], Example]
  metrics: tuple[str, ...]
  labels: tuple[str, ...] | None = None
  description: str = ''
  offline_alternative: str | None = None


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
  if task.name in TASKS:
    raise ValueError(f'Task {task.name!r} is already registered.')
  TASKS[task.name] = task
  return task


def get(name: str) -> Task:
  if name not in TASKS:
    raise ValueError(f'Unknown task {name!r} (config.data.task); set --config.data.task to one '
                     f'of {", ".join(sorted(TASKS))}.')
  return TASKS[name]


def single_reference(inputs: str, targets: str) -> Example:
  """The example of a task scored against its one target."""
  return Example(inputs, targets, (targets,))


def without_prefix(inputs: str) -> str:
  """'translate English to German: Hello' -> 'Hello': an input without the task's prefix (the
  prefix is the task's, not the example's text)."""
  return inputs.split(': ', 1)[1] if ': ' in inputs else inputs


class Examples(Sequence):
  """`examples[i] -> Example`: a task's preprocessing mapped lazily over a split's records."""

  def __init__(self, task: Task, records: Sequence[dict]):
    self.task = task
    self._records = records

  def __len__(self) -> int:
    return len(self._records)

  def __getitem__(self, index: int) -> Example:
    if isinstance(index, slice):
      return [self[i] for i in range(*index.indices(len(self)))]
    return self.task.preprocess(self._records[index])

  def __repr__(self) -> str:
    return f'Examples({self.task.name!r}, {self._records!r})'


def load_examples(task: Task, data_config, split: str) -> Sequence[Example]:
  """The examples of `split` of the task's dataset, preprocessed when read."""
  offline_option = (f'--config.data.task={task.offline_alternative}   a task of the same kind '
                    'on data prepared offline' if task.offline_alternative
                    else sources.EMBEDDED_OPTION)
  records = sources.load_records(data_config, split, task.dataset, offline_option=offline_option)
  examples = Examples(task, records)
  if len(examples):
    # Read one now, so that records the task cannot use (a missing feature, a split without
    # labels) fail at start-up rather than at the first batch.
    try:
      examples[0]
    except KeyError as error:
      raise ValueError(
          f'Task {task.name!r} (config.data.task) reads feature {error.args[0]!r}, which '
          f'dataset {task.dataset!r} does not have; its features: '
          f'{sorted(records[0])}.') from None
  return examples
