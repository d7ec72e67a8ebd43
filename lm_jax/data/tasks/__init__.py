"""Downstream tasks by name (`config.data.task`): a TFDS dataset, its text-to-text preprocessing
and metrics. A new task is one `register(Task(...))` in the module of its kind."""

from lm_jax.data.tasks.task import (TASKS, Example, Examples, Task, get, load_examples,
                                    register)
# Importing each kind registers its tasks.
from lm_jax.data.tasks import (classification, question_answering,  # noqa: F401
                               summarization, translation)

NAMES = tuple(TASKS)
