"""The project's offline TFDS datasets, prepared from text already on the machine:
`prepare(name, data_dir)` builds one on first use and returns its builder. Each builder module
is registered below; the others (offline, stdlib_corpus, python_sources, docstring_rules,
rst_text, gettext_pairs, qa_contexts) are helpers the builders share, never another builder."""

import functools
from collections.abc import Callable

import tensorflow_datasets as tfds

from lm_jax.data.builders import code_summaries
from lm_jax.data.builders import django_translations
from lm_jax.data.builders import docstring_qa
from lm_jax.data.builders import docstring_summaries
from lm_jax.data.builders import python_code
from lm_jax.data.builders import python_faq
from lm_jax.data.builders import python_reference_qa
from lm_jax.data.builders import stdlib_docs
from lm_jax.data.builders import system_translations
from lm_jax.data.builders import wordnet_categories

_DJANGO = 'django_translations'
_SYSTEM = 'system_translations'

# Dataset name (with its config, as in tfds.builder('name/config')) -> its `prepare(data_dir)`.
_PREPARERS: dict[str, Callable[[str | None], tfds.core.DatasetBuilder]] = {
    'stdlib_docs': stdlib_docs.prepare,
    'docstring_summaries': docstring_summaries.prepare,
    **{f'code_summaries/{source}': functools.partial(code_summaries.prepare, source)
       for source in code_summaries.SOURCES},
    'wordnet_categories': wordnet_categories.prepare,
    'python_faq': python_faq.prepare,
    'python_code': python_code.prepare,
    'python_reference_qa': python_reference_qa.prepare,
    **{f'docstring_qa/{source}': functools.partial(docstring_qa.prepare, source)
       for source in docstring_qa.SOURCES},
    **{f'{_DJANGO}/{language}': functools.partial(django_translations.prepare, language)
       for language in django_translations.LANGUAGES},
    **{f'{_SYSTEM}/{language}': functools.partial(system_translations.prepare, language)
       for language in system_translations.LANGUAGES},
}
NAMES = tuple(_PREPARERS)


def prepare(name: str, data_dir: str | None = None) -> tfds.core.DatasetBuilder | None:
  """The builder of offline dataset `name`, prepared in `data_dir` if it is not yet (seconds;
  wordnet_categories ~20 s); None when `name` is not one of ours (a dataset of TFDS's own)."""
  preparer = _PREPARERS.get(name)
  if preparer is not None:
    return preparer(data_dir)
  for dataset, module in ((_DJANGO, django_translations), (_SYSTEM, system_translations)):
    if name.split('/')[0] == dataset:
      raise ValueError(
          f'Unknown dataset {name!r}: {dataset} needs a language, one of '
          f'{", ".join(f"{dataset}/{language}" for language in module.LANGUAGES)}.')
  return None
