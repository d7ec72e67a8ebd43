import pytest

from lm_jax.data.builders import stdlib_corpus


@pytest.fixture(scope='module')
def documents():
  return list(stdlib_corpus.all_documents())


def test_corpus_is_real_text_of_useful_size(documents):
  total_bytes = sum(len(text.encode('utf-8')) for _, text in documents)
  assert len(documents) > 5000
  assert total_bytes > 1_500_000
  assert all(len(text) >= stdlib_corpus.MIN_CHARS for _, text in documents)
  keys = [key for key, _ in documents]
  assert len(set(keys)) == len(keys)
  assert any(key.startswith('pydoc_data/topics.py::') for key in keys)
  assert 'json/__init__.py::dumps' in keys


def test_corpus_is_deterministic(documents):
  assert list(stdlib_corpus.iter_documents()) == documents


def test_splits_are_disjoint_and_cover_the_corpus(documents):
  train = stdlib_corpus.documents('train')
  validation = stdlib_corpus.documents('validation')
  # About VALIDATION_PERCENT of the documents (a hash picks them), however many this Python's
  # standard library has.
  percent = 100 * len(validation) / len(documents)
  assert 0.5 * stdlib_corpus.VALIDATION_PERCENT < percent < 2 * stdlib_corpus.VALIDATION_PERCENT
  assert {k for k, _ in train}.isdisjoint({k for k, _ in validation})
  assert len(train) + len(validation) == len(documents)
  with pytest.raises(ValueError, match='split'):
    stdlib_corpus.documents('test')


def test_no_test_or_third_party_docstrings(documents):
  for key, _ in documents:
    parts = key.split('::')[0].split('/')
    assert not {'test', 'tests', 'idle_test', 'site-packages'} & set(parts), key


@pytest.mark.parametrize('relpath, name', [
    ('json/__init__.py', 'json'), ('os.py', 'os'), ('email/mime/text.py', 'email.mime.text')])
def test_module_name(relpath, name):
  assert stdlib_corpus.module_name(relpath) == name
