"""python_faq: the reStructuredText parser and the builder on fixture pages in the FAQ's
format, then the installed FAQ sources (Debian python3.X-doc) when present."""

import os

import pytest

from lm_jax.data.builders import python_faq

SPLITS = ('train', 'validation')
try:
  REAL_DIR = python_faq.source_dir() if not os.environ.get(python_faq.ENV_VAR) else None
except FileNotFoundError:
  REAL_DIR = None

PROGRAMMING = """\
:tocdepth: 2

===============
Programming FAQ
===============

.. only:: html

   .. contents::

General Questions
=================

.. _faq-debugger:

Is there a source code level debugger with breakpoints?
-------------------------------------------------------

Yes.

The built-in function :func:`breakpoint` starts :mod:`pdb`, see
:ref:`the debugger docs <debugger>` and `the wiki <https://wiki.python.org/>`_.

* `Wing IDE <https://wingware.com/>`_
* *PyCharm*, with a **graphical** debugger

.. index:: pair: debugger; graphical

How do I share global variables across modules?
-----------------------------------------------

Create a module, e.g. ``config``, as in the
:ref:`faq-debugger` section.  For example::

   x = 0   # Default value of the 'x' configuration setting

Then use it:

.. code-block:: python
   :linenos:

   import config
   config.x = 1

.. testsetup::

   hidden = True

>>> print(config.x)
1

1) A list item whose literal block::

      in_the_item = True

   is followed by more of the item.

.. note::
   Modules are singletons; :meth:`~object.__init__` of
   ``Py_DECREF``\\ 'ing code runs once.

How do you remove multiple items from a list
--------------------------------------------

Use a list comprehension.

I try to use __spam and I get an error.
---------------------------------------

This is a statement, not a question.

How do I delete a file? (And other file questions...)
-----------------------------------------------------

Use :func:`os.remove`; see :pep:`8` and :envvar:`PATH`.

How do I make a Python script executable on Unix?
-------------------------------------------------

Start it with ``#!/usr/bin/env python3``.

Is an empty section an answer?
------------------------------

.. _next-label:

Performance
===========
"""

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
  titles = python_faq.labels(PROGRAMMING)
  pairs = list(python_faq.qa_pairs(python_faq.resolve_refs(PROGRAMMING, titles)))
  assert pairs == EXPECTED


def test_sections_find_over_and_underlined_titles():
  titles = [title for title, _ in python_faq.sections(PROGRAMMING)]
  assert titles[:3] == ['Programming FAQ', 'General Questions', EXPECTED[0][0]]
  assert titles[-1] == 'Performance'


@pytest.mark.parametrize('rst, text', [
    ('``*args`` and *emphasis*', '*args and emphasis'),
    (':class:`dict <dict>` and :func:`!open`', 'dict and open'),
    (':ref:`urllib-howto`', 'urllib howto'),
])
def test_clean_inline(rst, text):
  assert python_faq.clean_inline(python_faq.resolve_refs(rst, {})) == text


@pytest.fixture
def fixture_dir(tmp_path, monkeypatch):
  directory = tmp_path / 'faq'
  directory.mkdir()
  (directory / 'programming.rst.txt').write_text(PROGRAMMING)
  (directory / 'index.rst.txt').write_text('.. toctree::\n\n   programming\n')
  monkeypatch.setenv(python_faq.ENV_VAR, str(directory))
  return directory


def test_builder_on_fixture_pages(fixture_dir, tmp_path):
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


@pytest.mark.skipif(REAL_DIR is None, reason='Python FAQ sources absent (Debian python3.X-doc)')
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
