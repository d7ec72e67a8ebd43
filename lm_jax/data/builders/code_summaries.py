"""TFDS builder `code_summaries`: a standard-library function's source, its docstring removed ->
the docstring's summary line. Code summarization (as CodeSearchNet's Python pairs) built
offline from Python's own source (PSF licence)."""

import ast
import inspect
import os
import platform
import sysconfig
from collections.abc import Iterator
from typing import NamedTuple

import tensorflow_datasets as tfds

from lm_jax.data import stdlib_corpus
from lm_jax.data.builders import docstring_summaries, offline

_SKIP_DIRS = frozenset({'test', 'tests', 'testing', '__pycache__'})
SOURCES = ('stdlib', 'installed')


def functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
  """(qualname, node) of every function and method, nested ones too, in source order."""
  for qualname, node in stdlib_corpus.definitions(tree):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      yield qualname, node


def source_without_docstring(lines: list[str], node) -> str | None:
  """The function's source (decorators, signature and body) with its docstring's lines cut
  and its indentation removed; None when the docstring shares a line with code
  (`def f(): "Doc."; return 1`) or nothing but the docstring is left."""
  docstring = node.body[0]
  first = min([node.lineno] + [d.lineno for d in node.decorator_list])
  if len(node.body) < 2 or docstring.lineno == node.lineno:
    return None
  if node.body[1].lineno == docstring.end_lineno:
    return None
  body = lines[docstring.end_lineno:node.end_lineno]
  while not body[0].strip():  # the blank line that usually follows a docstring
    body.pop(0)
  kept = lines[first - 1:docstring.lineno - 1] + body
  indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
  # Lines of a multi-line string may start left of the def; those stay as they are.
  dedented = [line[indent:] if not line[:indent].strip() else line for line in kept]
  return '\n'.join(line.rstrip() for line in dedented).strip('\n')


def _site_package_roots() -> list[str]:
  return sorted({sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']})


def installed_package_files() -> list[tuple[str, str]]:
  """(root, relative path) of the `.py` files of every installed distribution (site-packages),
  sorted, test directories excluded."""
  files = []
  for root in _site_package_roots():
    for dirpath, dirnames, filenames in os.walk(root):
      dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
      files += [(root, os.path.relpath(os.path.join(dirpath, name), root))
                for name in sorted(filenames) if name.endswith('.py')]
  return files


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
    return f'{docstring_summaries.module_name(self.relpath)}.{self.qualname}'


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
      paragraphs = docstring_summaries.paragraphs_of(inspect.cleandoc(docstring))
      summary = docstring_summaries.summary_of(paragraphs[0]) if paragraphs else None
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


def examples(source: str = 'stdlib') -> Iterator[tuple[str, str, dict]]:
  """(key, module path, example) for every documented function of `source` whose body is more
  than the docstring; a (code, summary) pair seen before (a vendored copy) is skipped."""
  seen_pairs = set()
  for function in documented_functions(source):
    code = source_without_docstring(function.lines, function.node)
    if code is None or (code, function.summary) in seen_pairs:
      continue
    seen_pairs.add((code, function.summary))
    example = {'code': code, 'summary': function.summary, 'name': function.name}
    yield f'{function.relpath}::{function.qualname}', function.relpath, example


class CodeSummaries(offline.OfflineBuilder):
  """Python functions' code and their docstrings' summary lines."""

  BUILDER_CONFIGS = source_configs()

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Functions and methods of the standard library of Python '
            f'{platform.python_version()} (parsed with `ast`, never imported; test '
            'directories excluded) whose docstring opens with a summary paragraph. summary: '
            'that paragraph, whitespace collapsed, '
            f'{docstring_summaries.MIN_SUMMARY_WORDS}-{docstring_summaries.MAX_SUMMARY_WORDS} '
            'words, not a call signature; code: the source from the first decorator to the '
            'end of the body, the whole docstring removed, dedented; name: the qualified '
            'name (json.JSONEncoder.encode). Splits 80/10/10 by a hash of the module path, '
            'so a module is in one split only. The text depends on the Python version that '
            'prepared it.'),
        features=tfds.features.FeaturesDict({
            'code': tfds.features.Text(),
            'summary': tfds.features.Text(),
            'name': tfds.features.Text(),
        }),
        homepage='https://docs.python.org/3/library/',
        license='Python Software Foundation License Version 2 (PSF-2.0), as the '
        'Python source it is extracted from.',
    )

  def _keyed_examples(self):
    for key, relpath, example in examples(self.builder_config.name):
      yield docstring_summaries.split_of(relpath), key, example


def prepare(source: str, data_dir: str | None = None) -> CodeSummaries:
  """Prepares `code_summaries/<source>` in `data_dir` if needed (offline: seconds for stdlib,
  minutes for installed) and returns the builder."""
  return offline.prepare(CodeSummaries(config=source, data_dir=data_dir))
