"""The Python source trees code_summaries and docstring_qa read (SOURCES: the standard library,
or also every installed package) and their documented functions, each with its docstring's
summary line; parsed with `ast`, never imported."""

import ast
import inspect
import os
import sysconfig
from collections.abc import Iterator
from typing import NamedTuple

import tensorflow_datasets as tfds

from lm_jax.data.builders import docstring_rules
from lm_jax.data.builders import stdlib_corpus

_SKIP_DIRS = frozenset({'test', 'tests', 'testing', '__pycache__'})
SOURCES = ('stdlib', 'installed')


def functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
  """(qualname, node) of every function and method, nested ones too, in source order."""
  for qualname, node in stdlib_corpus.definitions(tree):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      yield qualname, node


def _site_package_roots() -> list[str]:
  return sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})


def python_files(root: str) -> list[str]:
  """Relative paths of the `.py` files under `root`, in walk order with sorted names, test
  directories excluded."""
  paths = []
  for dirpath, dirnames, filenames in os.walk(root):
    dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
    paths += [os.path.relpath(os.path.join(dirpath, name), root)
              for name in sorted(filenames) if name.endswith('.py')]
  return paths


def installed_package_files() -> list[tuple[str, str]]:
  """(root, relative path) of the `.py` files of every installed distribution (site-packages),
  sorted, test directories excluded."""
  return [(root, relpath) for root in _site_package_roots() for relpath in python_files(root)]


def source_files(source: str) -> list[tuple[str, str]]:
  """(root, relative path) of the `.py` files `source` ('stdlib' or 'installed') reads."""
  stdlib = sysconfig.get_paths()['stdlib']
  files = [(stdlib, relpath) for relpath in stdlib_corpus.stdlib_files(stdlib)]
  return files + installed_package_files() if source == 'installed' else files


class DocumentedFunction(NamedTuple):
  relpath: str  # of its module, under its root
  qualname: str  # within its module: JSONEncoder.encode
  node: ast.FunctionDef | ast.AsyncFunctionDef
  lines: list[str]  # of its module's source
  summary: str  # its docstring's summary line

  @property
  def name(self) -> str:
    """Qualified with its module: json.JSONEncoder.encode."""
    return f'{stdlib_corpus.module_name(self.relpath)}.{self.qualname}'


def documented_functions(source: str = 'stdlib') -> Iterator[DocumentedFunction]:
  """Every function of `source` whose docstring opens with a summary, file by file in source
  order; of a name defined twice in a module (under if/else), the first definition."""
  for root, relpath in source_files(source):
    parsed = stdlib_corpus.parse_file(os.path.join(root, relpath), relpath)
    if parsed is None:
      continue
    tree, text = parsed
    lines = text.splitlines()
    seen = set()
    for qualname, node in functions(tree):
      docstring = ast.get_docstring(node)
      if not docstring or qualname in seen:
        continue
      seen.add(qualname)
      paragraphs = docstring_rules.paragraphs_of(inspect.cleandoc(docstring))
      summary = docstring_rules.summary_of(paragraphs[0]) if paragraphs else None
      if summary is not None:
        yield DocumentedFunction(relpath, qualname, node, lines, summary)


def source_configs() -> list[tfds.core.BuilderConfig]:
  """A builder config for each of SOURCES: the builders that read `documented_functions`."""
  return [
      tfds.core.BuilderConfig(name='stdlib', description="This Python's standard library."),
      tfds.core.BuilderConfig(
          name='installed', description='The standard library and every installed package '
          '(site-packages): over ten times the examples, depending on what is installed.'),
  ]
