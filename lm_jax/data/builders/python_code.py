"""TFDS builder `python_code`: whole Python source files, the corpus of Korbak et al.'s PEP8 task
built offline (docs/preference.md): this Python's standard library and the sources of a pinned
list of installed packages, which violate PEP8 far more often than the standard library does.

The packages are fixed (PACKAGES, all installed by requirements.txt) so that the corpus is the
same from machine to machine, up to the versions the requirements' ranges allow: the dataset's
description records each package's version, and every run records the prepared data's
fingerprint (data_fingerprint.json). Files split 80/10/10 by a hash of their path, so a file is
in one split only; test directories are left out, and a file whose text appeared before (a
vendored copy) is kept once.
"""
import hashlib
import importlib.metadata
import importlib.util
import os
import platform
import sysconfig
from collections.abc import Iterator

import tensorflow_datasets as tfds

from lm_jax.data.builders import offline
from lm_jax.data.builders import python_sources
from lm_jax.data.builders import stdlib_corpus

# Import name -> distribution name, in requirements.txt (or installed with it).
PACKAGES = {
    'absl': 'absl-py', 'django': 'django', 'etils': 'etils', 'flax': 'flax',
    'ml_collections': 'ml-collections', 'optax': 'optax', 'orbax': 'orbax-checkpoint',
    'rouge_score': 'rouge-score', 'sacrebleu': 'sacrebleu', 'tensorboardX': 'tensorboardX',
    'tqdm': 'tqdm',
}
STDLIB = 'stdlib'


def _package_root(name: str) -> str:
  """The directory of installed package `name`, found without importing it."""
  spec = importlib.util.find_spec(name)
  if spec is None or not spec.submodule_search_locations:
    raise FileNotFoundError(
        f'The python_code corpus reads the sources of {name} ({PACKAGES[name]}), which is not '
        'installed: pip install -r requirements.txt.')
  return list(spec.submodule_search_locations)[0]


def source_files() -> list[tuple[str, str]]:
  """(path in the corpus, file on disk) of every source file: 'stdlib/json/decoder.py', then
  '<package>/<its path>' for each of PACKAGES, sorted."""
  stdlib = sysconfig.get_paths()['stdlib']
  files = [(f'{STDLIB}/{relpath}', os.path.join(stdlib, relpath))
           for relpath in stdlib_corpus.stdlib_files(stdlib)]
  for name in sorted(PACKAGES):
    root = _package_root(name)
    files += [(f'{name}/{relpath}', os.path.join(root, relpath))
              for relpath in python_sources.python_files(root)]
  return files


def versions() -> dict[str, str]:
  """The version of Python and of each package the corpus reads."""
  return {'python': platform.python_version(),
          **{name: importlib.metadata.version(dist) for name, dist in sorted(PACKAGES.items())}}


def examples() -> Iterator[tuple[str, dict]]:
  """(path, example) of every file that reads as UTF-8 and holds code, each text once."""
  seen = set()
  for path, filename in source_files():
    try:
      with open(filename, encoding='utf-8') as f:
        text = f.read()
    except (OSError, UnicodeDecodeError):
      continue
    digest = hashlib.sha256(text.encode('utf-8')).digest()
    if not text.strip() or digest in seen:
      continue
    seen.add(digest)
    yield path, {'text': text, 'path': path}


class PythonCode(offline.OfflineBuilder):
  """Whole Python source files: the standard library and pinned packages."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Python source files, whole: the standard library and the packages '
            f'{", ".join(f"{n} {v}" for n, v in versions().items())} (test directories '
            'excluded; a text that appeared before kept once; files that are not UTF-8 or '
            'hold only whitespace dropped). text: the file; path: <stdlib or package>/<its '
            'path>. Splits 80/10/10 by a hash of the path.'),
        features=tfds.features.FeaturesDict({'text': tfds.features.Text(),
                                             'path': tfds.features.Text()}),
        homepage='https://docs.python.org/3/library/',
        license='Each file under its own licence: PSF-2.0 (the standard library), Apache-2.0 '
        '(absl, etils, flax, ml_collections, optax, orbax, rouge_score, sacrebleu), BSD '
        '(django), MIT (tensorboardX, tqdm).',
    )

  def _keyed_examples(self):
    for path, example in examples():
      yield offline.hash_split(path, offline.TRAIN_VALIDATION_TEST), path, example


def prepare(data_dir: str | None = None) -> PythonCode:
  """Prepares `python_code` in `data_dir` if needed (offline, about a minute) and returns the
  builder."""
  return offline.prepare(PythonCode(data_dir=data_dir))
