"""The project's offline TFDS datasets, prepared from text already on the machine:
`prepare(name, data_dir)` builds one on first use and returns its builder."""

import functools
from collections.abc import Callable

import tensorflow_datasets as tfds

from lm_jax.data import stdlib_docs_builder
from lm_jax.data.builders import code_summaries
from lm_jax.data.builders import django_translations
from lm_jax.data.builders import docstring_qa
from lm_jax.data.builders import docstring_summaries
from lm_jax.data.builders import python_faq
from lm_jax.data.builders import python_reference_qa
from lm_jax.data.builders import system_translations
from lm_jax.data.builders import wordnet_categories

_DJANGO = 'django_translations'
_SYSTEM = 'system_translations'

# Dataset name (with its config, as in tfds.builder('name/config')) -> its `prepare(data_dir)`.
_PREPARERS: dict[str, Callable[[str | None], tfds.core.DatasetBuilder]] = {
    # Looked up when called: stdlib_docs_builder imports this package's `offline`, so when it
    # is imported first this module runs while stdlib_docs_builder is still half-defined.
    'stdlib_docs': lambda data_dir: stdlib_docs_builder.prepare(data_dir),
    'docstring_summaries': docstring_summaries.prepare,
    **{f'code_summaries/{source}': functools.partial(code_summaries.prepare, source)
       for source in code_summaries.SOURCES},
    'wordnet_categories': wordnet_categories.prepare,
    'python_faq': python_faq.prepare,
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
  for family, module in ((_DJANGO, django_translations), (_SYSTEM, system_translations)):
    if name.split('/')[0] == family:
      raise ValueError(
          f'Unknown dataset {name!r}: {family} needs a language, one of '
          f'{", ".join(f"{family}/{language}" for language in module.LANGUAGES)}.')
  return None
