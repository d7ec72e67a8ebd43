"""python_reference_qa: the parser of API entries, sentences and contexts on rst snippets in
the Library Reference's format, then the dataset of the installed sources (Debian
python3.X-doc) when present."""

import os

import pytest

from lm_jax.data import tasks
from lm_jax.data.builders import offline
from lm_jax.data.builders import python_reference_qa as qa
from system_data import DOCS_PACKAGE
from system_data.python_docs import LIBRARY_PAGE, LIBRARY_PAGES

SPLITS = tuple(offline.TRAIN_VALIDATION_TEST)
try:
  REAL_DIR = qa.source_dir() if not os.environ.get(qa.ENV_VAR) else None
except FileNotFoundError:
  REAL_DIR = None

# (kind, name, arguments, answer) of the fixture page's entries with a first paragraph.
EXPECTED = [
    ('function', 'json.dumps', 'obj, *, skipkeys=False, sort_keys=False, **kw',
     "Serialize obj to a JSON formatted str, e.g. '[1]'."),
    ('class', 'json.JSONDecoder', '*, object_hook=None', 'Simple JSON decoder (see the table).'),
    ('method', 'json.JSONDecoder.decode', 's',
     'Return the Python representation of s (a str instance containing a JSON document).'),
    ('method', 'json.JSONDecoder.raw_decode', 's', 'Decode a JSON document from s.'),
    ('exception', 'json.JSONDecodeError', 'msg, doc, pos',
     'Subclass of ValueError with additional attributes.'),
    ('decorator', 'json.tool.cached', None, 'Wrap a function.'),
    ('exception', 'json.tool.TooShort', None, 'Short.'),
]


def test_entries_of_a_page():
  entries = list(qa.entries(LIBRARY_PAGE))
  assert [(e.kind, e.name, e.arguments, e.answer) for e in entries] == EXPECTED
  assert entries[0].description == (
      "Serialize obj to a JSON formatted str, e.g. '[1]'. The arguments have the same meaning "
      'as in dump.')
  assert qa.render(entries[5]) == '@json.tool.cached: Wrap a function.'
  assert [qa.question(e) for e in entries[3:5]] == [
      'What does json.JSONDecoder.raw_decode do?', 'What is json.JSONDecodeError?']


@pytest.mark.parametrize('rst, names', [
    # Sphinx does not repeat a class the nested name already gives; nor a module.
    ('.. class:: list([iterable])\n\n   Lists are sequences.\n\n'
     '   .. method:: list.sort(*, key=None)\n\n      Sort the list.\n',
     ['list', 'list.sort']),
    ('.. module:: os.path\n\n.. function:: os.path.join(a, *p)\n\n   Join paths.\n',
     ['os.path.join']),
    # The :module: option moves an entry; an empty one says that its name is complete.
    ('.. module:: ctypes\n\n.. function:: find_library(name)\n   :module: ctypes.util\n\n'
     '   Find a library.\n\n.. function:: xml.etree.ElementInclude.include(elem)\n'
     '   :module:\n\n   Expand include directives.\n',
     ['ctypes.util.find_library', 'xml.etree.ElementInclude.include']),
    # A class's body ends at the first line indented as little as its directive.
    ('.. class:: A\n\n   An A.\n\nText.\n\n.. note::\n\n   .. function:: f()\n\n      An f.\n',
     ['A', 'f']),
])
def test_qualified_names(rst, names):
  assert [e.name for e in qa.entries(rst)] == names


@pytest.mark.parametrize('text, sentence', [
    ('Return x, e.g. Foo is fine. Next.', 'Return x, e.g. Foo is fine.'),
    ('Return the value, i.e. ``Bar``. More', 'Return the value, i.e. ``Bar``.'),
    ('Set the state. *visibility* can be 0.', 'Set the state.'),  # the rst shows the break
    ('New in 3.11 and os.path.join. "Quoted" next.', 'New in 3.11 and os.path.join.'),
    ('Is it? Yes!', 'Is it?'),
    ('Names, lists etc. are kept. Then', 'Names, lists etc. are kept.'),
    ('A value (see x). (The result is naive.)', 'A value (see x).'),
    ('No sentence end here', 'No sentence end here'),
])
def test_first_sentence(text, sentence):
  assert qa.first_sentence(text) == sentence


def _entry(module, i, length):
  """An entry whose context line is `length` characters long."""
  name = f'{module}.f{i}'
  return qa.Entry('function', name, module, '', 'A' * (length - len(name) - 4), 'A a a.')


@pytest.mark.parametrize('entries, sizes', [
    ([_entry('m', i, 400) for i in range(5)], [2, 2, 1]),  # 3 lines: 1,202 characters
    ([_entry('m', i, 20) for i in range(9)], [4, 4, 1]),
    ([_entry('a', 0, 20), _entry('a', 1, 20), _entry('b', 2, 20)], [2, 1]),
    ([_entry('m', 0, 1100), _entry('m', 1, 98)], [2]),  # 1,199 characters
    ([_entry('m', 0, 1100), _entry('m', 1, 99), _entry('m', 2, 20)], [1, 2]),
])
def test_chunks_bound_entries_modules_and_characters(entries, sizes):
  assert len(qa.render(_entry('m', 0, 400))) == 400
  chunks = list(qa.chunks(entries))
  assert [len(chunk) for chunk in chunks] == sizes
  assert [e for chunk in chunks for e in chunk] == entries
  for chunk in chunks:
    assert len('\n'.join(map(qa.render, chunk))) < qa.MAX_CONTEXT_CHARS
    assert len({e.module for e in chunk}) == 1


def test_examples_of_fixture_pages(library_dir):
  assert qa.source_dir() == library_dir
  examples = list(qa.examples(library_dir))
  json = [example for page, example in examples if page == 'json']
  # TooShort's one-word answer is left out; json2 repeats json.dumps, kept once.
  assert [e['name'] for e in json] == [name for _, name, _, _ in EXPECTED[:6]]
  assert {page for page, _ in examples} == {'json', 'shelve', 'bisect'}
  assert [e['answer'] for e in json] == [answer for *_, answer in EXPECTED[:6]]
  assert json[0]['question'] == 'What does json.dumps do?'
  assert json[1]['question'] == 'What is json.JSONDecoder?'
  assert json[0]['context'] == json[3]['context'] != json[4]['context']
  assert json[0]['context'].splitlines()[0] == (
      "json.dumps(obj, *, skipkeys=False, sort_keys=False, **kw): Serialize obj to a JSON "
      "formatted str, e.g. '[1]'. The arguments have the same meaning as in dump.")
  # Up to 4 entries of one module: json.tool starts a context of its own.
  assert json[4]['context'] == (
      'json.JSONDecodeError(msg, doc, pos): Subclass of ValueError with additional attributes.')
  assert json[5]['context'] == '@json.tool.cached: Wrap a function.'
  for _, example in examples:
    assert example['answer'] in example['context']


def test_builder_on_fixture_pages(library_dir, tmp_path):
  builder = qa.prepare(str(tmp_path / 'tfds'))
  assert builder.info.file_format.value == 'array_record'
  assert set(builder.info.features.keys()) == {'question', 'context', 'answer', 'name'}
  for split, page in zip(SPLITS, LIBRARY_PAGES):
    assert offline.hash_split(page, offline.TRAIN_VALIDATION_TEST) == split
    names = {r['name'].decode() for r in builder.as_data_source(split=split)}
    assert names == {name.replace('json', page) for _, name, _, _ in EXPECTED[:6]}


def test_missing_sources_name_the_package_and_variable(tmp_path, monkeypatch):
  monkeypatch.setenv(qa.ENV_VAR, str(tmp_path))
  with pytest.raises(FileNotFoundError, match=f'apt-get install python3.11-doc.*{qa.ENV_VAR}'):
    qa.source_dir()


@pytest.fixture(scope='module')
def records(data_dir, read_splits):
  return read_splits(qa.prepare(data_dir))


@pytest.mark.skipif(REAL_DIR is None,
                    reason=f'Python docs sources absent: apt-get install {DOCS_PACKAGE}')
def test_installed_reference(records):
  # python3.11-doc: 5,880 questions on 254 pages, 4,919 / 232 / 729.
  total = sum(map(len, records.values()))
  assert 4000 < total < 8000
  assert 0.7 < len(records['train']) / total < 0.95
  assert all(len(records[split]) > 100 for split in SPLITS)
  pages = {example['name']: page for page, example in qa.examples(REAL_DIR)}
  seen = set()
  for split in SPLITS:
    split_pages = {pages[r['name']] for r in records[split]}
    assert all(offline.hash_split(p, offline.TRAIN_VALIDATION_TEST) == split
               for p in split_pages)
    assert not split_pages & seen
    seen |= split_pages
  names = [r['name'] for split in SPLITS for r in records[split]]
  assert len(names) == len(set(names))
  for record in (r for split in SPLITS for r in records[split]):
    assert record['answer'] in record['context'] and len(record['context']) < 1200
    assert 3 <= len(record['answer'].split()) <= 30
    assert record['question'] in (f"What does {record['name']} do?",
                                  f"What is {record['name']}?")
    assert ':func:`' not in record['context'] and '``' not in record['context']


@pytest.mark.skipif(REAL_DIR is None,
                    reason=f'Python docs sources absent: apt-get install {DOCS_PACKAGE}')
def test_known_entries(records):
  by_name = {r['name']: r for split in SPLITS for r in records[split]}
  dumps = by_name['json.dumps']
  assert dumps['question'] == 'What does json.dumps do?'
  # json.rst: "Serialize *obj* to a JSON formatted :class:`str` using this :ref:`conversion
  # table <py-to-json-table>`.  The arguments have the same meaning as in :func:`dump`."
  assert dumps['answer'] == 'Serialize obj to a JSON formatted str using this conversion table.'
  assert ('json.dumps(obj, *, skipkeys=False, ensure_ascii=True, check_circular=True, '
          'allow_nan=True, cls=None, indent=None, separators=None, default=None, '
          'sort_keys=False, **kw): Serialize obj') in dumps['context']
  assert by_name['collections.OrderedDict']['question'] == 'What is collections.OrderedDict?'
  assert 'collections.OrderedDict.move_to_end' in by_name

  example = tasks.get('python_reference_qa').preprocess(dumps)
  assert example == tasks.Example(
      f"question: What does json.dumps do? context: {dumps['context']}", dumps['answer'],
      (dumps['answer'],))
