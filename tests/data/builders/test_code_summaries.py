"""code_summaries: cutting a function's docstring out of its source, then the prepared
standard-library dataset read back without TensorFlow, and the installed-packages source."""

import ast
import inspect
import json
import re
import textwrap

import pytest

from lm_jax.data.builders import code_summaries as cs
from lm_jax.data.builders import docstring_rules
from lm_jax.data.builders import python_sources

SPLITS = ('train', 'validation', 'test')

SOURCE = textwrap.dedent('''\
    class Frobnicator:

        @property
        @staticmethod
        def level(x):
            """Return the frobnication level of x.

            Longer explanation.
            """

            text = """
    starts left of the def
    """
            return len(text) + x

        def stub(self):
            """Only a docstring, nothing else."""

        def same_line(self): "A docstring on the def line."; return 1

        def next_line(self):
            """Docstring."""; return 2

    def outer():
        """Outer function of the module."""
        def inner():
            """Inner function."""
            return 1
        return inner
    ''')


def _by_name():
  tree = ast.parse(SOURCE)
  return dict(python_sources.functions(tree))


def test_functions_are_found_with_their_qualified_names():
  assert list(_by_name()) == ['Frobnicator.level', 'Frobnicator.stub',
                              'Frobnicator.same_line', 'Frobnicator.next_line', 'outer',
                              'outer.inner']


def test_source_keeps_decorators_and_body_and_drops_the_docstring():
  lines = SOURCE.splitlines()
  assert cs.source_without_docstring(lines, _by_name()['Frobnicator.level']) == (
      '@property\n@staticmethod\ndef level(x):\n    text = """\n'
      'starts left of the def\n"""\n    return len(text) + x')
  # A nested function keeps its own docstring: it is part of the outer function's code.
  assert cs.source_without_docstring(lines, _by_name()['outer']) == (
      'def outer():\n    def inner():\n        """Inner function."""\n        return 1\n'
      '    return inner')


@pytest.mark.parametrize('name', ['Frobnicator.stub', 'Frobnicator.same_line',
                                  'Frobnicator.next_line'])
def test_functions_that_are_only_a_docstring_or_share_its_line_make_no_pair(name):
  assert cs.source_without_docstring(SOURCE.splitlines(), _by_name()[name]) is None


@pytest.fixture(scope='module')
def prepared(data_dir, read_splits):
  builder = cs.prepare('stdlib', data_dir)
  records = read_splits(builder)
  return builder, records


def test_features_and_sizes(prepared):
  builder, records = prepared
  assert builder.info.file_format.value == 'array_record'
  assert set(builder.info.features.keys()) == {'code', 'summary', 'name'}
  total = sum(len(records[split]) for split in SPLITS)
  assert total == sum(1 for _ in cs.examples('stdlib'))
  assert 4000 < total < 10000
  assert all(len(records[split]) > 200 for split in SPLITS)


def test_summaries_obey_the_bounds_and_code_has_no_docstring(prepared):
  _, records = prepared
  for record in (r for split in SPLITS for r in records[split]):
    summary_words = len(record['summary'].split())
    assert (docstring_rules.MIN_SUMMARY_WORDS <= summary_words
            <= docstring_rules.MAX_SUMMARY_WORDS)
    assert record['summary'] == ' '.join(record['summary'].split())
    assert re.search(r'^(async )?def ', record['code'], re.MULTILINE)
    assert record['code'] == record['code'].strip('\n')


def test_splits_are_disjoint_by_module(prepared):
  _, records = prepared
  module_of = {example['name']: relpath for _, relpath, example in cs.examples('stdlib')}
  modules = [{module_of[r['name']] for r in records[split]} for split in SPLITS]
  assert sum(map(len, modules)) == len(set.union(*modules))


def test_json_dumps_is_its_live_source_without_the_docstring(prepared):
  _, records = prepared
  by_name = {r['name']: r for split in SPLITS for r in records[split]}
  summary = inspect.cleandoc(json.dumps.__doc__).split('\n\n')[0]
  assert by_name['json.dumps']['summary'] == ' '.join(summary.split())
  code = by_name['json.dumps']['code']
  live = inspect.getsource(json.dumps)
  assert code.startswith('def dumps(obj, *, skipkeys=False')
  assert summary.split('\n')[0] not in code
  # Everything after the docstring is there, line for line.
  assert live.split('"""')[-1].strip('\n') in code


def test_installed_source_adds_packages_and_skips_vendored_copies(tmp_path, monkeypatch):
  function = 'def add(a, b):\n    """Add two numbers together."""\n    return a + b\n'
  for relpath in ('pkg/maths.py', 'other/_vendor/pkg/maths.py', 'pkg/tests/test_maths.py'):
    (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relpath).write_text(function)
  (tmp_path / 'pkg' / 'broken.py').write_text('print "python 2"\n')
  monkeypatch.setattr(python_sources, '_site_package_roots', lambda: [str(tmp_path)])
  installed = [e for _, _, e in cs.examples('installed')]
  stdlib = [e for _, _, e in cs.examples('stdlib')]
  assert len(installed) == len(stdlib) + 1  # one copy of add; tests/ and Python 2 skipped
  added = [e for e in installed if e['summary'] == 'Add two numbers together.']
  assert added == [{'code': 'def add(a, b):\n    return a + b',
                    'summary': 'Add two numbers together.', 'name': 'other._vendor.pkg.maths.add'}]
