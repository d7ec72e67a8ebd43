"""Question answering in T5's format: closed-book questions ('question: ...') on the offline
Python FAQ; extractive questions with their context ('question: ... context: ...') on the
offline Python library reference, on Python modules' docstrings and on SQuAD. Scored by SQuAD
exact match and F1."""

from lm_jax.data.tasks.task import Example, Task, register, single_reference

METRICS = ('squad',)


def _python_faq(record: dict) -> Example:
  return single_reference('question: ' + record['question'], record['answer'])


def _extractive(record: dict) -> Example:
  return single_reference(f"question: {record['question']} context: {record['context']}",
                          record['answer'])


def _squad(record: dict) -> Example:
  # T5 also spaces out punctuation (`_pad_punctuation`), a workaround for its tokenizer that a
  # lossless SentencePiece model does not need; the text is kept as it is.
  answers = tuple(record['answers']['text'])
  inputs = f"question: {record['question']} context: {record['context']}"
  # Train on the first answer; a prediction matching any of them counts (SQuAD v1.1 scoring).
  return Example(inputs, answers[0] if answers else '', answers)


register(Task(
    name='python_faq',
    dataset='python_faq',
    preprocess=_python_faq,
    metrics=METRICS,
    description="Closed-book QA on the questions and answers of Python's FAQ (offline)."))
register(Task(
    name='python_reference_qa',
    dataset='python_reference_qa',
    preprocess=_extractive,
    metrics=METRICS,
    description='Extractive QA on the Python library reference: templated questions about a '
    'function, class or method, answered by a sentence of its documentation given as context '
    '(offline).'))
register(Task(
    name='docstring_qa',
    dataset='docstring_qa/stdlib',
    preprocess=_extractive,
    metrics=METRICS,
    description="Extractive QA on Python's standard library: what does a function do, answered "
    "by its docstring's summary line in a context listing its module's functions (offline)."))
register(Task(
    name='docstring_qa_installed',
    dataset='docstring_qa/installed',
    preprocess=_extractive,
    metrics=METRICS,
    description='The same over the standard library and every installed package (offline, '
    '~78k questions).'))
register(Task(
    name='squad',
    dataset='squad',
    preprocess=_squad,
    metrics=METRICS,
    description='SQuAD v1.1 extractive QA, the question with its context paragraph (TFDS).',
    offline_alternative='python_reference_qa'))
