"""TFDS builder `stdlib_docs` for the embedded corpus (see `stdlib_corpus`); prepared
offline in array_record format and read back without TensorFlow."""

import platform

import tensorflow_datasets as tfds

from lm_jax.data.builders import offline
from lm_jax.data.builders import stdlib_corpus


class StdlibDocs(offline.OfflineBuilder):
  """Docstrings of the Python standard library and the pydoc topics."""

  SPLITS = ('train', 'validation')

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Module, class and function docstrings parsed (with `ast`, never imported) '
            'from the standard library of Python '
            f'{platform.python_version()}, test directories excluded, plus every entry '
            'of `pydoc_data.topics`. The text depends on the Python version that '
            f'prepared it. Documents shorter than {stdlib_corpus.MIN_CHARS} characters '
            f'are dropped; ~{stdlib_corpus.VALIDATION_PERCENT}% of documents, chosen '
            'by a hash of their key, form the validation split.'),
        features=tfds.features.FeaturesDict({'text': tfds.features.Text()}),
        homepage='https://docs.python.org/3/library/',
        license='Python Software Foundation License Version 2 (PSF-2.0), as the '
        'Python documentation and source it is extracted from.',
    )

  def _keyed_examples(self):
    for key, text in stdlib_corpus.all_documents():  # the text ships with Python
      yield stdlib_corpus.split_of(key), key, {'text': text}


def prepare(data_dir: str | None = None) -> StdlibDocs:
  """Prepares `stdlib_docs` in `data_dir` if needed (offline, seconds) and returns the builder."""
  return offline.prepare(StdlibDocs(data_dir=data_dir))
