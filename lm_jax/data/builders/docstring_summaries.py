"""TFDS builder `docstring_summaries`: the body of a standard-library docstring -> its first
paragraph, a summarisation task built offline from Python's own source (PSF licence)."""

import platform
from collections.abc import Iterator

import tensorflow_datasets as tfds

from lm_jax.data.builders import docstring_rules
from lm_jax.data.builders import offline
from lm_jax.data.builders import stdlib_corpus

# Below this the body is a remark ("See above."), not a document to summarise.
MIN_DOCUMENT_WORDS = 10


def split_of(key: str) -> str:
  """'train' (80%), 'validation' (10%) or 'test' (10%), fixed by a hash of `key`."""
  return offline.hash_split(key, offline.TRAIN_VALIDATION_TEST)


def summary_pair(docstring: str) -> tuple[str, str] | None:
  """(document, summary) of a cleaned docstring, or None when it does not make one.

  The summary is the first paragraph with its whitespace collapsed; the document is every
  later paragraph as written (indented examples keep their layout).
  """
  paragraphs = docstring_rules.paragraphs_of(docstring)
  if len(paragraphs) < 2:
    return None
  summary = docstring_rules.summary_of(paragraphs[0])
  document = '\n\n'.join(paragraphs[1:])
  document_words = len(document.split())
  # A summary is shorter than what it summarises.
  if summary is None or document_words < max(MIN_DOCUMENT_WORDS, len(summary.split()) + 1):
    return None
  return document, summary


def examples() -> Iterator[tuple[str, str, dict]]:
  """(key, module path, example) for every function, class and method docstring that makes a
  pair; module docstrings and the pydoc topics are not about one named object."""
  for key, text in stdlib_corpus.all_documents():
    relpath, qualname = key.split('::', 1)
    if qualname == '<module>' or relpath.startswith('pydoc_data/'):
      continue
    pair = summary_pair(text)
    if pair is None:
      continue
    document, summary = pair
    name = f'{stdlib_corpus.module_name(relpath)}.{qualname}'
    yield key, relpath, {'document': document, 'summary': summary, 'name': name}


class DocstringSummaries(offline.OfflineBuilder):
  """Standard-library docstring bodies and their one-paragraph summaries."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Function, class and method docstrings of the standard library of Python '
            f'{platform.python_version()} (parsed with `ast`, never imported; test '
            'directories excluded) that have at least two paragraphs. summary: the first '
            'paragraph, whitespace collapsed, '
            f'{docstring_rules.MIN_SUMMARY_WORDS}-{docstring_rules.MAX_SUMMARY_WORDS} '
            'words, not a call signature; document: the later paragraphs, at least '
            f'{MIN_DOCUMENT_WORDS} words and longer than the summary; name: the qualified '
            'name (json.JSONEncoder.encode). Splits 80/10/10 by a hash of the module path, '
            'so a module is in one split only. The text depends on the Python version '
            'that prepared it.'),
        features=tfds.features.FeaturesDict({
            'document': tfds.features.Text(),
            'summary': tfds.features.Text(),
            'name': tfds.features.Text(),
        }),
        homepage='https://docs.python.org/3/library/',
        license='Python Software Foundation License Version 2 (PSF-2.0), as the '
        'Python source it is extracted from.',
    )

  def _keyed_examples(self):
    for key, relpath, example in examples():  # the source ships with Python
      yield split_of(relpath), key, example


def prepare(data_dir: str | None = None) -> DocstringSummaries:
  """Prepares `docstring_summaries` in `data_dir` if needed (offline, seconds) and returns it."""
  return offline.prepare(DocstringSummaries(data_dir=data_dir))
