"""The reStructuredText sources of the Python docs (Doc/ of CPython, shipped as the HTML docs'
_sources/*.rst.txt by Debian's python3.X-doc): a FAQ page and a Library Reference page with the
constructs python_faq and python_reference_qa parse."""
import pathlib

# A page in the FAQ's format (after Doc/faq/programming.rst), with the markup the parser drops.
FAQ_PAGE = """\
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

# A page in the Library Reference's format (after Doc/library/json.rst), API entries of every kind.
LIBRARY_PAGE = """\
:mod:`json` --- JSON encoder and decoder
========================================

.. module:: json
   :synopsis: Encode and decode the JSON format.

.. index:: single: JSON

.. function:: dumps(obj, *, skipkeys=False, \\
                    sort_keys=False, **kw)
   :async:

   Serialize *obj* to a JSON formatted :class:`str`, e.g. ``'[1]'``.  The
   arguments have the same meaning as in :func:`dump`.

   .. note::

      Keys are always strings.

.. class:: JSONDecoder(*, object_hook=None)
           JSONDecoder(strict=True)

   Simple JSON decoder (see :ref:`the table <json-to-py-table>`).

   .. method:: decode(s)

      .. index:: single: decode

      Return the Python representation of *s* (a :class:`str` instance
      containing a JSON document).

      >>> json.JSONDecoder().decode('[1]')

.. method:: JSONDecoder.raw_decode(s)

   Decode a JSON document from *s*.  Return a 2-tuple.

.. exception:: JSONDecodeError(msg, doc, pos)

   Subclass of :exc:`ValueError` with additional attributes.

.. function:: undocumented()

   .. versionadded:: 3.1

.. currentmodule:: json.tool

.. decorator:: cached

   Wrap a function.

.. function:: also_cached()
   :noindex:

   A repeat of an entry documented elsewhere.

.. exception:: TooShort

   Short.
"""

# Copies of LIBRARY_PAGE that write_library adds, one page in each split by the hash of its name.
LIBRARY_PAGES = ('json', 'shelve', 'bisect')


def write_faq(directory: str) -> str:
  """`directory` (made if needed) holding FAQ_PAGE as programming.rst.txt and an index page."""
  faq = pathlib.Path(directory)
  faq.mkdir(parents=True, exist_ok=True)
  (faq / 'programming.rst.txt').write_text(FAQ_PAGE)
  (faq / 'index.rst.txt').write_text('.. toctree::\n\n   programming\n')
  return str(faq)


def write_library(sources: str) -> str:
  """The library/ directory of docs `sources` (made if needed): LIBRARY_PAGE once per name of
  LIBRARY_PAGES, its module renamed, the json page's dumps again on a page json2 (a name
  documented twice), and an index page."""
  library = pathlib.Path(sources) / 'library'
  library.mkdir(parents=True, exist_ok=True)
  for page in LIBRARY_PAGES:
    (library / f'{page}.rst.txt').write_text(LIBRARY_PAGE.replace('json', page))
  (library / 'json2.rst.txt').write_text(
      LIBRARY_PAGE[LIBRARY_PAGE.index('.. module::'):LIBRARY_PAGE.index('.. class::')])
  (library / 'index.rst.txt').write_text('.. toctree::\n\n   json\n')
  return str(library)
