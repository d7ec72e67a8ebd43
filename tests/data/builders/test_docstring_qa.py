"""docstring_qa: parameter lists, contexts and questions from inline modules, then the prepared
standard-library dataset read back without TensorFlow."""

import ast
import inspect
import json

import pytest

from lm_jax.data.builders import docstring_qa as dq
from lm_jax.data.builders import python_sources

SPLITS = ('train', 'validation', 'test')
MATHS = '''\
def add(a, b):
    """Add two numbers together."""
    return a + b

def _undocumented(x):
    return x

class Vector:
    def norm(self, *, squared=False):
        """Return the Euclidean norm of the vector."""

    def scale(self, factor, /, *others, **options):
        """Multiply every component by a factor."""
'''
SHAPES = 'def area(shape):\n    """Compute the area of a shape."""\n'


@pytest.fixture
def modules(tmp_path, monkeypatch):
  """A site-packages of pkg.maths, pkg.shapes and a vendored copy of pkg.maths, read alone."""
  files = {'pkg/maths.py': MATHS, 'pkg/shapes.py': SHAPES, 'other/_vendor/pkg/maths.py': MATHS}
  for relpath, text in files.items():
    (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relpath).write_text(text)
  monkeypatch.setattr(python_sources, 'source_files',
                      lambda source: [(str(tmp_path), relpath) for relpath in files])


@pytest.mark.parametrize('signature, expected', [
    ('f()', ''),
    ('f(a, b=1)', 'a, b'),
    ('f(a, /, b, *args, c, **kw)', 'a, /, b, *args, c, **kw'),
    ('f(*, key: int = 0)', '*, key'),
])
def test_arguments_are_the_parameter_names(signature, expected):
  node = ast.parse(f'def {signature}: pass').body[0]
  assert dq.arguments(node) == expected


def test_questions_ask_each_function_of_a_context_listing_its_module(modules):
  examples = [example for _, _, example in dq.examples('installed')]
  maths_context = ('pkg.maths\n'
                   'add(a, b): Add two numbers together.\n'
                   'Vector.norm(self, *, squared): Return the Euclidean norm of the vector.\n'
                   'Vector.scale(self, factor, /, *others, **options): Multiply every component '
                   'by a factor.')
  # The vendored copy adds nothing; a new module starts a new context.
  assert examples == [
      {'question': 'What does pkg.maths.add do?', 'context': maths_context,
       'answer': 'Add two numbers together.', 'name': 'pkg.maths.add'},
      {'question': 'What does pkg.maths.Vector.norm do?', 'context': maths_context,
       'answer': 'Return the Euclidean norm of the vector.', 'name': 'pkg.maths.Vector.norm'},
      {'question': 'What does pkg.maths.Vector.scale do?', 'context': maths_context,
       'answer': 'Multiply every component by a factor.', 'name': 'pkg.maths.Vector.scale'},
      {'question': 'What does pkg.shapes.area do?',
       'context': 'pkg.shapes\narea(shape): Compute the area of a shape.',
       'answer': 'Compute the area of a shape.', 'name': 'pkg.shapes.area'},
  ]


def test_contexts_keep_under_their_entry_and_character_limits(modules, monkeypatch):
  monkeypatch.setattr(dq, 'MAX_ENTRIES', 2)
  contexts = [example['context'] for _, _, example in dq.examples('installed')]
  assert [context.count('\n') for context in dict.fromkeys(contexts)] == [2, 1, 1]
  # Under 90 characters a context holds one line; the scale line does not fit at all.
  monkeypatch.setattr(dq, 'MAX_CONTEXT_CHARS', 90)
  names = [[line.split('(')[0] for line in context.split('\n')[1:]]
           for context in dict.fromkeys(e['context'] for _, _, e in dq.examples('installed'))]
  assert names == [['add'], ['Vector.norm'], ['area']]


@pytest.fixture(scope='module')
def prepared(data_dir, read_splits):
  builder = dq.prepare('stdlib', data_dir)
  records = read_splits(builder)
  return builder, records


def test_features_and_sizes(prepared):
  builder, records = prepared
  assert builder.info.file_format.value == 'array_record'
  assert set(builder.info.features.keys()) == {'question', 'context', 'answer', 'name'}
  total = sum(len(records[split]) for split in SPLITS)
  assert total == sum(1 for _ in dq.examples('stdlib'))
  assert 4000 < total < 10000
  assert all(len(records[split]) > 200 for split in SPLITS)


def test_every_answer_is_its_line_of_the_context(prepared):
  _, records = prepared
  for record in (r for split in SPLITS for r in records[split]):
    module, *lines = record['context'].split('\n')
    assert 1 <= len(lines) <= dq.MAX_ENTRIES and len(record['context']) < dq.MAX_CONTEXT_CHARS
    assert record['question'] == f"What does {record['name']} do?"
    asked = [line for line in lines
             if f"{module}.{line.split('(')[0]}" == record['name']]
    assert len(asked) == 1 and asked[0].endswith('): ' + record['answer'])


def test_splits_are_disjoint_by_module(prepared):
  _, records = prepared
  modules = [{r['context'].split('\n')[0] for r in records[split]} for split in SPLITS]
  assert sum(map(len, modules)) == len(set.union(*modules))


def test_json_dumps_is_asked_with_its_live_docstring(prepared):
  _, records = prepared
  record = {r['name']: r for split in SPLITS for r in records[split]}['json.dumps']
  summary = ' '.join(inspect.cleandoc(json.dumps.__doc__).split('\n\n')[0].split())
  assert record['answer'] == summary
  assert record['context'].split('\n')[0] == 'json'
  assert f'dumps(obj, *, skipkeys, ensure_ascii, check_circular, allow_nan, cls, indent, ' \
         f'separators, default, sort_keys, **kw): {summary}' in record['context']
