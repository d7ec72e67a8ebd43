"""Classification as text-to-text (T5: the target is the class name) or for a classification
head (`labels`): WordNet definitions -> lexicographer category offline, SST-2 from TFDS."""

from lm_jax.data.builders import wordnet_categories
from lm_jax.data.tasks.task import Task, register, single_reference

METRICS = ('accuracy', 'f1')
SST2_LABELS = ('negative', 'positive')  # glue/sst2's ClassLabel names, in order


def _class_name(labels: tuple[str, ...], label: int, dataset: str) -> str:
  if label < 0:
    # TFDS writes -1 where a benchmark withholds its labels (GLUE's test splits).
    raise ValueError(f'The records of {dataset!r} have no labels (label {label}) in this split; '
                     'use a split with labels, e.g. --config.data.eval_split=validation.')
  return labels[label]


def _wordnet(record: dict):
  category = _class_name(wordnet_categories.LEXNAMES, int(record['category']),
                         'wordnet_categories')
  return single_reference('wordnet category: ' + record['definition'], category)


def _sst2(record: dict):
  label = _class_name(SST2_LABELS, int(record['label']), 'glue/sst2')
  return single_reference('sst2 sentence: ' + record['sentence'], label)


register(Task(
    name='wordnet_categories',
    dataset='wordnet_categories',
    preprocess=_wordnet,
    metrics=METRICS,
    labels=tuple(wordnet_categories.LEXNAMES),
    description='WordNet definitions -> one of the 45 lexicographer categories, e.g. '
                "'noun.animal' (offline)."))
register(Task(
    name='glue_sst2',
    dataset='glue/sst2',
    preprocess=_sst2,
    metrics=('accuracy',),  # GLUE's metric for SST-2
    labels=SST2_LABELS,
    description='Stanford Sentiment Treebank sentences -> negative / positive (TFDS GLUE).',
    offline_alternative='wordnet_categories'))
