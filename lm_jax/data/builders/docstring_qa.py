"""TFDS builder `docstring_qa`: SQuAD-style extractive QA on Python modules' own API listings.
A context names a module and lists consecutive documented functions of it ('qualname(args):
summary line'); the templated question asks what one of them does; the answer is its
docstring's summary line.

`python_reference_qa` asks the same of the Library Reference, but has ~5k questions: a small
model memorises their answers instead of learning to find the asked line. Here the functions of
every installed package give ~78k questions with ~69k distinct answers."""

import ast
import platform
from collections.abc import Iterable, Iterator

import tensorflow_datasets as tfds

from lm_jax.data.builders import offline
from lm_jax.data.builders import python_sources
from lm_jax.data.builders import qa_contexts
from lm_jax.data.builders import stdlib_corpus

SOURCES = python_sources.SOURCES
MAX_ENTRIES = 4  # per context, so that most contexts hold distractor entries
MAX_CONTEXT_CHARS = 800  # a context stays under this: ~250 tokens of a small vocabulary


def arguments(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
  """The parameter names as a call would show them: 'a, /, b, *args, c, **kw' (no defaults or
  annotations, which would crowd the context)."""
  spec = node.args
  names = [a.arg for a in spec.posonlyargs] + (['/'] if spec.posonlyargs else [])
  names += [a.arg for a in spec.args]
  if spec.vararg:
    names.append('*' + spec.vararg.arg)
  elif spec.kwonlyargs:
    names.append('*')
  names += [a.arg for a in spec.kwonlyargs]
  if spec.kwarg:
    names.append('**' + spec.kwarg.arg)
  return ', '.join(names)


def render(function: python_sources.DocumentedFunction) -> str:
  """The function's line of a context: 'JSONEncoder.encode(self, o): Return a JSON string...'.
  Its module is named once, on the context's first line (`context`)."""
  return f'{function.qualname}({arguments(function.node)}): {function.summary}'


def context(functions: list[python_sources.DocumentedFunction]) -> str:
  """'json.encoder' and the functions' lines, one line each: functions of one module."""
  module = stdlib_corpus.module_name(functions[0].relpath)
  return '\n'.join([module] + list(map(render, functions)))


def chunks(functions: Iterable[python_sources.DocumentedFunction]
           ) -> Iterator[list[python_sources.DocumentedFunction]]:
  """Consecutive functions of one module, up to MAX_ENTRIES, their context under
  MAX_CONTEXT_CHARS; a function whose context alone is that long is left out."""
  return qa_contexts.listing_chunks(
      (function for function in functions if len(context([function])) < MAX_CONTEXT_CHARS),
      lambda function: function.relpath, context, MAX_ENTRIES, MAX_CONTEXT_CHARS)


def examples(source: str = 'stdlib') -> Iterator[tuple[str, str, dict]]:
  """(key, module path, example) for every documented function of `source`, one question each;
  a function whose (qualname, summary) was seen in another module (a vendored copy) is left
  out."""
  seen = set()

  def first_copies():
    for function in python_sources.documented_functions(source):
      if (function.qualname, function.summary) not in seen:
        seen.add((function.qualname, function.summary))
        yield function

  for chunk in chunks(first_copies()):
    text = context(chunk)
    for function in chunk:
      yield f'{function.relpath}::{function.qualname}', function.relpath, {
          'question': f'What does {function.name} do?', 'context': text,
          'answer': function.summary, 'name': function.name}


class DocstringQa(offline.OfflineBuilder):
  """Templated questions on Python functions, answered by their docstrings' summary lines."""

  BUILDER_CONFIGS = python_sources.source_configs()

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Extractive QA in SQuAD v1.1 form on the functions and methods of Python '
            f'{platform.python_version()} modules (parsed with `ast`, never imported; test '
            'directories excluded), as code_summaries reads them. A context is up to '
            f'{MAX_ENTRIES} consecutive documented functions of one module: the module\'s '
            'name on the first line, then a line for each function, "JSONEncoder.encode(self, '
            'o): <summary line>" (parameter names only), under '
            f'{MAX_CONTEXT_CHARS} characters. question: "What does json.dumps do?" '
            '(templated, as in WikiReading or zsRE). answer: the asked function\'s docstring '
            'summary line, an exact substring of the context. name: the qualified name asked '
            'about. Splits 80/10/10 by a hash of the module path, so a module is in one split.'),
        features=qa_contexts.features(),
        homepage='https://docs.python.org/3/library/',
        license='The licences of the modules read: the Python Software Foundation License '
        '(PSF-2.0) for the standard library, each package\'s own for site-packages.',
    )

  def _keyed_examples(self):
    for key, relpath, example in examples(self.builder_config.name):
      yield offline.hash_split(relpath, offline.TRAIN_VALIDATION_TEST), key, example


def prepare(source: str, data_dir: str | None = None) -> DocstringQa:
  """Prepares `docstring_qa/<source>` in `data_dir` if needed (offline: seconds for stdlib,
  minutes for installed) and returns the builder."""
  return offline.prepare(DocstringQa(config=source, data_dir=data_dir))
