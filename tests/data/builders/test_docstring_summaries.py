"""docstring_summaries: the pairing rules on inline docstrings, then the prepared dataset
read back without TensorFlow."""

import inspect
import json

import pytest

from lm_jax.data.builders import docstring_rules
from lm_jax.data.builders import docstring_summaries as ds

SPLITS = ('train', 'validation', 'test')


def test_summary_is_the_first_paragraph_and_document_the_rest():
  docstring = ('Return the  frobnicated\nvalue of x.\n\nThe value is computed by the frobnicator, '
               'which is slow.\n\n    >>> frob(1)\n    2\n')
  assert ds.summary_pair(docstring) == (
      'The value is computed by the frobnicator, which is slow.\n\n    >>> frob(1)\n    2',
      'Return the frobnicated value of x.')


@pytest.mark.parametrize('docstring', [
    'A single paragraph only, however long it is, makes no pair at all here.',
    'Too short.\n\nThe body is long enough to be a document of its own, surely it is.',
    ' '.join(['word'] * 41) + '\n\nThe body is long enough to be a document of its own, surely.',
    'Return the value.\n\nShort body here.',
    'getopt(args, options[, long_options]) -> opts, args\n\nParses command line options and '
    'parameter list, the way the C function of that name does.',
    'Summary of the thing here.\n\n\n   \n',
])
def test_docstrings_that_make_no_pair(docstring):
  assert ds.summary_pair(docstring) is None


@pytest.fixture(scope='module')
def prepared(data_dir, read_splits):
  builder = ds.prepare(data_dir)
  records = read_splits(builder)
  return builder, records


def test_features_and_sizes(prepared):
  builder, records = prepared
  assert builder.info.file_format.value == 'array_record'
  assert set(builder.info.features.keys()) == {'document', 'summary', 'name'}
  total = sum(len(records[split]) for split in SPLITS)
  assert total == sum(1 for _ in ds.examples())
  assert 1500 < total < 4000
  assert len(records['train']) / total > 0.6
  assert all(len(records[split]) > 100 for split in SPLITS)


def test_summaries_and_documents_obey_the_bounds(prepared):
  _, records = prepared
  for record in (r for split in SPLITS for r in records[split]):
    summary_words, document_words = len(record['summary'].split()), len(record['document'].split())
    assert (docstring_rules.MIN_SUMMARY_WORDS <= summary_words
            <= docstring_rules.MAX_SUMMARY_WORDS)
    assert record['summary'] == ' '.join(record['summary'].split())
    assert document_words >= ds.MIN_DOCUMENT_WORDS and document_words > summary_words
    assert record['document'] == record['document'].strip('\n')


def test_splits_are_disjoint_by_module(prepared):
  _, records = prepared
  module_of = {example['name']: relpath for _, relpath, example in ds.examples()}
  modules = [{module_of[r['name']] for r in records[split]} for split in SPLITS]
  assert sum(map(len, modules)) == len(set.union(*modules))
  names = [r['name'] for split in SPLITS for r in records[split]]
  assert len(set(names)) == len(names)


def test_json_dumps_matches_its_live_docstring(prepared):
  _, records = prepared
  by_name = {r['name']: r for split in SPLITS for r in records[split]}
  paragraphs = inspect.cleandoc(json.dumps.__doc__).split('\n\n')
  assert by_name['json.dumps']['summary'] == ' '.join(paragraphs[0].split())
  assert by_name['json.dumps']['document'] == '\n\n'.join(paragraphs[1:]).strip()
