"""TFDS builder `stdlib_docs` for the embedded corpus (see `stdlib_corpus`); prepared
offline in array_record format and read back without TensorFlow."""

import platform

from etils import epath
import tensorflow_datasets as tfds

from lm_jax.data import stdlib_corpus

# array_record is the format TFDS can write and random-access read without TensorFlow.
FILE_FORMAT = 'array_record'


class StdlibDocs(tfds.core.GeneratorBasedBuilder):
  """Docstrings of the Python standard library and the pydoc topics."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  # TFDS derives this from the package via `importlib_resources`, a module that is
  # not installed here; it is only used to look for a checksums file next to it.
  code_path = epath.Path(__file__)

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

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: the text ships with Python
    return {split: self._generate_examples(split) for split in ('train', 'validation')}

  def _generate_examples(self, split):
    for key, text in stdlib_corpus.documents(split):
      yield key, {'text': text}


def prepare(data_dir: str | None = None) -> StdlibDocs:
  """Prepares `stdlib_docs` in `data_dir` if needed (offline, seconds) and returns the builder."""
  builder = StdlibDocs(data_dir=data_dir)
  builder.download_and_prepare(
      file_format=FILE_FORMAT,
      download_config=tfds.download.DownloadConfig(try_download_gcs=False),
  )
  return builder
