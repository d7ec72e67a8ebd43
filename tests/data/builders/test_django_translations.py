"""django_translations: the split and Django lookup, then the prepared German and Japanese
datasets read back without TensorFlow."""

import pytest

from lm_jax.data.builders import django_translations
from lm_jax.data.builders import gettext_pairs

SPLITS = ('train', 'validation', 'test')


def test_split_of_is_fixed_by_the_key_and_near_80_10_10():
  splits = [django_translations.split_of(f'message {i}') for i in range(5000)]
  assert splits == [django_translations.split_of(f'message {i}') for i in range(5000)]
  assert 0.77 < splits.count('train') / 5000 < 0.83
  assert 0.08 < splits.count('test') / 5000 < 0.12


def test_missing_django_says_how_to_install(monkeypatch):
  monkeypatch.setattr(django_translations.importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(ModuleNotFoundError, match='pip install django'):
    django_translations.django_dir()


def test_unknown_language_lists_the_languages(data_dir):
  with pytest.raises(ValueError, match='zh_Hans'):
    django_translations.prepare('klingon', data_dir)


@pytest.fixture(scope='module', params=['de', 'ja'])
def prepared(request, data_dir, read_splits):
  builder = django_translations.prepare(request.param, data_dir)
  records = read_splits(builder)
  return request.param, builder, records


def test_prepared_dataset_is_the_filtered_catalog(prepared):
  language, builder, records = prepared
  assert builder.info.file_format.value == 'array_record'
  assert set(builder.info.features.keys()) == {'source', 'target'}
  everything = [(r['source'], r['target']) for split in SPLITS for r in records[split]]
  assert sorted(everything) == django_translations.pairs(language)
  assert 500 < len(everything) < 900
  assert 0.7 < len(records['train']) / len(everything) < 0.9
  assert all(len(records[split]) > 30 for split in ('validation', 'test'))


def test_splits_are_disjoint_by_source(prepared):
  _, _, records = prepared
  sources = [{r['source'] for r in records[split]} for split in SPLITS]
  assert sum(map(len, sources)) == len(set.union(*sources))
  for split in SPLITS:
    assert all(django_translations.split_of(r['source']) == split for r in records[split])


def test_pairs_are_translated_and_free_of_placeholders(prepared):
  _, _, records = prepared
  for record in (r for split in SPLITS for r in records[split]):
    source, target = record['source'], record['target']
    assert source and target and source != target
    assert not gettext_pairs.PLACEHOLDER.search(source)
    assert not gettext_pairs.PLACEHOLDER.search(target)
    assert '\n' not in source + target and '  ' not in source + target


def test_known_translations(prepared):
  language, _, records = prepared
  table = {r['source']: r['target'] for split in SPLITS for r in records[split]}
  expected = {'de': {'Monday': 'Montag', 'German': 'Deutsch'},
              'ja': {'Monday': '月曜日', 'German': 'ドイツ語'}}[language]
  assert {source: table[source] for source in expected} == expected
