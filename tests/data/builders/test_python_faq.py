"""python_faq: the reStructuredText parser and the builder on fixture pages in the FAQ's
format, then the installed FAQ sources (Debian python3.X-doc) when present."""

import os

import pytest

from lm_jax.data.builders import python_faq
from lm_jax.data.builders import rst_text
from system_data import DOCS_PACKAGE
from system_data.python_docs import FAQ_PAGE

SPLITS = ('train', 'validation')
try:
  REAL_DIR = python_faq.source_dir() if not os.environ.get(python_faq.ENV_VAR) else None
except FileNotFoundError:
  REAL_DIR = None

# What the parser makes of the fixture FAQ page.
EXPECTED = [
    ('Is there a source code level debugger with breakpoints?',
     'Yes.\n\n'
     'The built-in function breakpoint starts pdb, see the debugger docs and the wiki.\n\n'
     '* Wing IDE\n* PyCharm, with a graphical debugger'),
    ('How do I share global variables across modules?',
     'Create a module, e.g. config, as in the Is there a source code level debugger with '
     'breakpoints? section. For example:\n\n'
     "x = 0   # Default value of the 'x' configuration setting\n\n"
     'Then use it:\n\n'
     'import config\nconfig.x = 1\n\n'
     '>>> print(config.x)\n1\n\n'
     '1) A list item whose literal block:\n\n'
     'in_the_item = True\n\n'
     'is followed by more of the item.\n\n'
     "Modules are singletons; __init__ of Py_DECREF'ing code runs once."),
    ('How do you remove multiple items from a list', 'Use a list comprehension.'),
    ('How do I delete a file? (And other file questions...)',
     'Use os.remove; see PEP 8 and PATH.'),
    ('How do I make a Python script executable on Unix?',
     'Start it with #!/usr/bin/env python3.'),
]


def test_parser_turns_question_sections_into_cleaned_answers():
  titles = python_faq.labels(FAQ_PAGE)
  pairs = list(python_faq.qa_pairs(python_faq.resolve_refs(FAQ_PAGE, titles)))
  assert pairs == EXPECTED


def test_sections_find_over_and_underlined_titles():
  titles = [title for title, _ in python_faq.sections(FAQ_PAGE)]
  assert titles[:3] == ['Programming FAQ', 'General Questions', EXPECTED[0][0]]
  assert titles[-1] == 'Performance'


@pytest.mark.parametrize('rst, text', [
    ('``*args`` and *emphasis*', '*args and emphasis'),
    (':class:`dict <dict>` and :func:`!open`', 'dict and open'),
    (':ref:`urllib-howto`', 'urllib howto'),
])
def test_clean_inline(rst, text):
  assert rst_text.clean_inline(python_faq.resolve_refs(rst, {})) == text


def test_builder_on_fixture_pages(faq_dir, tmp_path):
  builder = python_faq.prepare(str(tmp_path / 'tfds'))
  assert builder.info.file_format.value == 'array_record'
  assert set(builder.info.features.keys()) == {'question', 'answer', 'section'}
  read = []
  for split in SPLITS:
    for record in builder.as_data_source(split=split):
      record = {k: v.decode('utf-8') for k, v in record.items()}
      assert record['section'] == 'programming'
      assert python_faq.split_of(record['question']) == split
      read.append((record['question'], record['answer']))
  assert sorted(read) == sorted(EXPECTED)
  assert {python_faq.split_of(q) for q, _ in EXPECTED} == set(SPLITS)  # TFDS writes no empty split


def test_missing_sources_name_the_package_and_variable(tmp_path, monkeypatch):
  monkeypatch.setenv(python_faq.ENV_VAR, str(tmp_path))
  with pytest.raises(FileNotFoundError,
                     match=f'apt-get install python3.11-doc.*{python_faq.ENV_VAR}'):
    python_faq.source_dir()


@pytest.mark.skipif(REAL_DIR is None,
                    reason=f'Python FAQ sources absent: apt-get install {DOCS_PACKAGE}')
def test_installed_faq(data_dir, read_splits):
  builder = python_faq.prepare(data_dir)
  records = read_splits(builder)
  total = sum(map(len, records.values()))
  assert 150 < total < 250
  assert 0.75 < len(records['train']) / total < 0.95
  questions = [{r['question'] for r in records[split]} for split in SPLITS]
  assert not questions[0] & questions[1]
  sections = {r['section'] for split in SPLITS for r in records[split]}
  assert {'programming', 'library', 'design', 'general'} <= sections and 'index' not in sections
  for record in (r for split in SPLITS for r in records[split]):
    assert record['answer'].strip() and python_faq.is_question(record['question'])
    assert ':func:`' not in record['answer'] and '.. index::' not in record['answer']
