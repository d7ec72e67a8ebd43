"""The embedded default corpus (`stdlib_docs`): docstrings of this Python's standard library plus
`pydoc_data.topics`, real English text present on every Python install (PSF licence). Its walk
and parse of Python sources (`ast`, never imported) is shared by the builders that read code."""

import ast
import functools
import inspect
import os
import sysconfig
import warnings
import zlib
from typing import Iterator

# Docstrings shorter than this are mostly one-word stubs ("Return self.") that
# teach the model little and inflate the document count.
MIN_CHARS = 40
# crc32(key) % 100 < VALIDATION_PERCENT -> validation: about 4% (~300 documents),
# enough for a stable eval loss, stable across runs since it depends only on the key.
VALIDATION_PERCENT = 4
_SKIP_DIRS = frozenset({'site-packages', 'test', 'tests', 'idle_test'})


def split_of(key: str) -> str:
  return 'validation' if zlib.crc32(key.encode('utf-8')) % 100 < VALIDATION_PERCENT else 'train'


def stdlib_files(root: str) -> list[str]:
  """Relative paths of the standard library's `.py` files, sorted, tests excluded."""
  paths = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and d != '__pycache__']
    for name in filenames:
      if name.endswith('.py'):
        paths.append(os.path.relpath(os.path.join(dirpath, name), root))
  return sorted(paths)


def module_name(relpath: str) -> str:
  """'json/__init__.py' -> 'json', 'email/mime/text.py' -> 'email.mime.text'."""
  parts = relpath[:-len('.py')].split('/')
  if parts[-1] == '__init__':
    parts.pop()
  return '.'.join(parts)


def parse_file(path: str, relpath: str) -> tuple[ast.Module, str] | None:
  """The syntax tree and text of a Python 3 source file; None for one that is not (lib2to3
  fixtures, Python 2 files, badly encoded test data)."""
  try:
    with open(path, 'rb') as f:
      source = f.read()
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')  # invalid escape sequences in old modules
      tree = ast.parse(source, filename=relpath)
    return tree, source.decode('utf-8')
  except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError):
    return None


def definitions(tree: ast.Module) -> Iterator[tuple[str, ast.ClassDef | ast.FunctionDef |
                                                     ast.AsyncFunctionDef]]:
  """(qualname, node) of every class and function, nested ones too, in source order."""

  def visit(node, prefix):
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        qualname = f'{prefix}{child.name}'
        yield qualname, child
        yield from visit(child, qualname + '.')
      elif isinstance(child, (ast.If, ast.Try, ast.With)):
        # Definitions under `if sys.platform ...:` / `try: ... except ImportError:`.
        yield from visit(child, prefix)

  yield from visit(tree, '')


def _docstrings(tree: ast.Module) -> Iterator[tuple[str, str]]:
  """(qualname, docstring) of the module, then its classes and functions in source order."""
  doc = ast.get_docstring(tree, clean=False)
  if doc:
    yield '<module>', doc
  for qualname, node in definitions(tree):
    doc = ast.get_docstring(node, clean=False)
    if doc:
      yield qualname, doc


def iter_documents() -> Iterator[tuple[str, str]]:
  """Yields (key, text) for every corpus document in a deterministic order."""
  root = sysconfig.get_paths()['stdlib']
  for relpath in stdlib_files(root):
    parsed = parse_file(os.path.join(root, relpath), relpath)
    if parsed is None:
      continue
    tree, _ = parsed
    seen = set()
    for qualname, doc in _docstrings(tree):
      text = inspect.cleandoc(doc)
      key = f'{relpath}::{qualname}'
      if len(text) < MIN_CHARS or key in seen:  # redefinitions under if/else
        continue
      seen.add(key)
      yield key, text

  from pydoc_data.topics import topics  # pylint: disable=g-import-not-at-top
  for name in sorted(topics):
    text = topics[name].strip()
    if len(text) >= MIN_CHARS:
      yield f'pydoc_data/topics.py::{name}', text


@functools.cache
def all_documents() -> tuple[tuple[str, str], ...]:
  """Every (key, text) pair, parsed once per process (~3 s)."""
  return tuple(iter_documents())


def documents(split: str) -> list[tuple[str, str]]:
  """All (key, text) pairs of `split` ('train' or 'validation')."""
  if split not in ('train', 'validation'):
    raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
  return [(k, t) for k, t in all_documents() if split_of(k) == split]
