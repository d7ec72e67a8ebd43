"""TFDS builder `system_translations/<lang>`: English -> <lang> message pairs from the gettext
catalogs the machine's own software installed under /usr/share/locale (git, PostgreSQL, GTK,
coreutils, ...): tens of thousands of real UI and error-message translations."""

import glob
import os

import tensorflow_datasets as tfds

from lm_jax.data.builders import gettext_pairs
from lm_jax.data.builders import offline

ENV_VAR = 'LM_JAX_LOCALE_DIR'
DEFAULT_DIR = '/usr/share/locale'
LANGUAGES = ('de', 'es', 'fr', 'it', 'ja', 'nl', 'pl', 'pt_BR', 'ru', 'zh_CN')
# ISO code lists (language, country, currency and script names) are name tables, not
# messages; they would be a third of the pairs.
_EXCLUDED_PREFIX = 'iso_'


def split_of(key: str) -> str:
  """'train' (80%), 'validation' (10%) or 'test' (10%), fixed by a hash of `key`."""
  return offline.hash_split(key, offline.TRAIN_VALIDATION_TEST)


def locale_dir() -> str:
  return os.environ.get(ENV_VAR, DEFAULT_DIR)


def catalog_files(language: str) -> list[str]:
  files = glob.glob(os.path.join(locale_dir(), language, 'LC_MESSAGES', '*.mo'))
  return sorted(f for f in files if not os.path.basename(f).startswith(_EXCLUDED_PREFIX))


def pairs(language: str) -> list[tuple[str, str]]:
  """Deduplicated (source, target) pairs of every readable catalog of `language`, with
  gettext_pairs' filters (singular messages, no placeholders, no identical or ambiguous pairs),
  sorted by source."""
  files = catalog_files(language)
  if not files:
    raise FileNotFoundError(
        f'No gettext catalogs in {os.path.join(locale_dir(), language, "LC_MESSAGES")}. '
        f'system_translations reads the .mo files installed software put there; set ${ENV_VAR} '
        'to another locale directory, or use the django_translations datasets (pip install '
        'django).')
  # A catalog without a charset header (net-tools) has an unknown encoding: skipped.
  return gettext_pairs.merged_pairs(files, skip_unreadable=True)


class SystemTranslationsConfig(tfds.core.BuilderConfig):
  """One target language, named by its gettext locale code."""


class SystemTranslations(offline.OfflineBuilder):
  """English -> other-language messages of the software installed on this machine."""

  BUILDER_CONFIGS = [
      SystemTranslationsConfig(name=language, description=f'English -> {language}.')
      for language in LANGUAGES
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'English msgid -> translated msgstr pairs of the compiled gettext catalogs under '
            f'{DEFAULT_DIR}/<lang>/LC_MESSAGES (or ${ENV_VAR}), except the iso_* code lists. '
            'Filters as django_translations: singular messages only, no placeholders, no '
            'message identical to its source, no source with two translations. Splits '
            '80/10/10 by a hash of the source. The text depends on the software installed '
            'on the machine that prepared it; each catalog keeps its package\'s licence '
            '(GPL, LGPL, MIT, PostgreSQL, ...), so the data is read from the installed '
            'files and never redistributed.'),
        features=tfds.features.FeaturesDict({
            'source': tfds.features.Text(),
            'target': tfds.features.Text(),
        }),
        homepage='https://www.gnu.org/software/gettext/',
        license='Per catalog: the licence of the package that installed it.',
    )

  def _keyed_examples(self):
    for source, target in pairs(self.builder_config.name):
      yield split_of(source), source, {'source': source, 'target': target}


def prepare(language: str, data_dir: str | None = None) -> SystemTranslations:
  """Prepares `system_translations/<language>` in `data_dir` if needed and returns the builder."""
  if language not in LANGUAGES:
    raise ValueError(f'Unknown system_translations language {language!r}; available: '
                     f'{", ".join(LANGUAGES)}.')
  return offline.prepare(SystemTranslations(config=language, data_dir=data_dir))
