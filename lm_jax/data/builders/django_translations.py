"""TFDS builder `django_translations/<lang>`: English -> <lang> message pairs from the
gettext catalogs shipped inside the installed Django package (BSD-3)."""

import glob
import importlib.util
import os

import tensorflow_datasets as tfds

from lm_jax.data.builders import gettext_pairs
from lm_jax.data.builders import offline

# Django locale codes offered as BuilderConfigs: well-translated catalogs (550-650 pairs each).
LANGUAGES = ('de', 'es', 'fr', 'it', 'ja', 'ko', 'nl', 'pl', 'pt_BR', 'ru', 'zh_Hans')


def split_of(key: str) -> str:
  """'train' (80%), 'validation' (10%) or 'test' (10%), fixed by a hash of `key`."""
  return offline.hash_split(key, offline.TRAIN_VALIDATION_TEST)


def django_dir() -> str:
  """The installed Django package's directory, found without importing Django."""
  spec = importlib.util.find_spec('django')
  if spec is None or not spec.submodule_search_locations:
    raise ModuleNotFoundError(
        'django_translations reads the gettext catalogs shipped inside Django, which is '
        'not installed: `pip install django` (it is listed in requirements.txt).')
  return list(spec.submodule_search_locations)[0]


def catalog_files(root: str, language: str) -> list[str]:
  """The compiled catalogs (.mo) of Django core and its contrib apps for `language`."""
  core = os.path.join(root, 'conf', 'locale', language, 'LC_MESSAGES', 'django.mo')
  contrib = glob.glob(os.path.join(root, 'contrib', '*', 'locale', language, 'LC_MESSAGES',
                                   '*.mo'))
  return sorted(([core] if os.path.exists(core) else []) + contrib)


def pairs(language: str) -> list[tuple[str, str]]:
  """The filtered pairs of Django's catalogs of `language` (see `gettext_pairs.merged_pairs`)."""
  files = catalog_files(django_dir(), language)
  if not files:
    raise ValueError(f'Django ships no catalogs for language {language!r}.')
  return gettext_pairs.merged_pairs(files)


class DjangoTranslationsConfig(tfds.core.BuilderConfig):
  """One target language, named by Django's locale code."""


class DjangoTranslations(offline.OfflineBuilder):
  """English -> other-language UI messages of Django."""

  BUILDER_CONFIGS = [
      DjangoTranslationsConfig(name=language, description=f'English -> {language}.')
      for language in LANGUAGES
  ]

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'English msgid -> translated msgstr pairs of the gettext catalogs shipped in '
            'the installed Django package (django/conf/locale and django/contrib/*/locale). '
            'Singular messages only; untranslated messages, messages identical to their '
            'source, messages with %-style or {}-style placeholders, and sources with two '
            'different translations are dropped; whitespace runs are collapsed. Splits '
            '80/10/10 by a hash of the source string, so a source is in one split only. '
            'The text depends on the Django version that prepared it. Django is '
            'distributed under the BSD 3-Clause licence, its translations included.'),
        features=tfds.features.FeaturesDict({
            'source': tfds.features.Text(),
            'target': tfds.features.Text(),
        }),
        homepage='https://docs.djangoproject.com/en/stable/topics/i18n/',
        license='BSD-3-Clause (Django and its translations).',
    )

  def _keyed_examples(self):
    for source, target in pairs(self.builder_config.name):  # the catalogs ship with Django
      yield split_of(source), source, {'source': source, 'target': target}


def prepare(language: str, data_dir: str | None = None) -> DjangoTranslations:
  """Prepares `django_translations/<language>` in `data_dir` if needed and returns the builder."""
  if language not in LANGUAGES:
    raise ValueError(f'Unknown django_translations language {language!r}; available: '
                     f'{", ".join(LANGUAGES)}.')
  return offline.prepare(DjangoTranslations(config=language, data_dir=data_dir))
