"""Translation tasks from English, in T5's format ('translate English to German: ...'): the
offline Django and system gettext catalogs and TFDS's WMT sets. Scored by BLEU and chrF."""

from lm_jax.data.tasks.task import Task, register, single_reference

LANGUAGES = {'de': 'German', 'fr': 'French', 'es': 'Spanish', 'it': 'Italian', 'nl': 'Dutch'}
METRICS = ('bleu', 'chrf')


def _preprocess(language: str, source_key: str, target_key: str):
  prefix = f'translate English to {LANGUAGES[language]}: '

  def preprocess(record: dict):
    return single_reference(prefix + record[source_key], record[target_key])

  return preprocess


for _language, _name in LANGUAGES.items():
  register(Task(
      name=f'translate_en_{_language}',
      dataset=f'django_translations/{_language}',
      preprocess=_preprocess(_language, 'source', 'target'),
      metrics=METRICS,
      description=f"English -> {_name} user-interface strings of Django's gettext catalogs "
                  '(offline).'))
  register(Task(
      name=f'translate_en_{_language}_system',
      dataset=f'system_translations/{_language}',
      preprocess=_preprocess(_language, 'source', 'target'),
      metrics=METRICS,
      description=f'English -> {_name} messages of the gettext catalogs installed software '
                  'keeps under /usr/share/locale (offline).'))

# T5's WMT tasks (Raffel et al. 2020 §2.3); each TFDS config holds both directions.
for _name, _dataset, _language in (
    ('wmt14_en_de', 'wmt14_translate/de-en', 'de'),
    ('wmt_t2t_en_de', 'wmt_t2t_translate/de-en', 'de'),  # T5's English-German data
    ('wmt14_en_fr', 'wmt14_translate/fr-en', 'fr'),
):
  register(Task(
      name=_name,
      dataset=_dataset,
      preprocess=_preprocess(_language, 'en', _language),
      metrics=METRICS,
      description=f'English -> {LANGUAGES[_language]} news translation of TFDS {_dataset!r}.',
      offline_alternative=f'translate_en_{_language}_system'))
