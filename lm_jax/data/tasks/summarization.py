"""Summarization tasks in T5's format ('summarize: ...'): the offline docstring summaries and
TFDS's news sets. Scored by ROUGE."""

from lm_jax.data.tasks.task import Task, register, single_reference

METRICS = ('rouge',)


def _preprocess(document_key: str, summary_key: str):
  def preprocess(record: dict):
    return single_reference('summarize: ' + record[document_key], record[summary_key])

  return preprocess


register(Task(
    name='summarize_docstrings',
    dataset='docstring_summaries',
    preprocess=_preprocess('document', 'summary'),
    metrics=METRICS,
    description="Python standard library docstrings: the body -> its first paragraph (offline)."))
register(Task(
    name='summarize_code',
    dataset='code_summaries/stdlib',
    preprocess=_preprocess('code', 'summary'),
    metrics=METRICS,
    description="Python standard library functions: the code -> its docstring's summary line "
    '(offline).'))
register(Task(
    name='summarize_code_installed',
    dataset='code_summaries/installed',
    preprocess=_preprocess('code', 'summary'),
    metrics=METRICS,
    description='The same from the standard library and every installed package (offline, '
    'ten times the pairs).'))
register(Task(
    name='cnn_dailymail',
    dataset='cnn_dailymail',
    preprocess=_preprocess('article', 'highlights'),
    metrics=METRICS,
    description='CNN / Daily Mail news articles -> their highlights (TFDS).',
    offline_alternative='summarize_docstrings'))
register(Task(
    name='xsum',
    dataset='xsum',
    preprocess=_preprocess('document', 'summary'),
    metrics=METRICS,
    description='BBC articles -> a one-sentence summary (TFDS).',
    offline_alternative='summarize_docstrings'))
