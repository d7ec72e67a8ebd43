"""TFDS builder `code_summaries`: a standard-library function's source, its docstring removed ->
the docstring's summary line. Code summarization (as CodeSearchNet's Python pairs) built
offline from Python's own source (PSF licence)."""

import platform
from collections.abc import Iterator

import tensorflow_datasets as tfds

from lm_jax.data.builders import docstring_rules
from lm_jax.data.builders import offline
from lm_jax.data.builders import python_sources

SOURCES = python_sources.SOURCES


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


def examples(source: str = 'stdlib') -> Iterator[tuple[str, str, dict]]:
  """(key, module path, example) for every documented function of `source` whose body is more
  than the docstring; a (code, summary) pair seen before (a vendored copy) is skipped."""
  seen_pairs = set()
  for function in python_sources.documented_functions(source):
    code = source_without_docstring(function.lines, function.node)
    if code is None or (code, function.summary) in seen_pairs:
      continue
    seen_pairs.add((code, function.summary))
    example = {'code': code, 'summary': function.summary, 'name': function.name}
    yield f'{function.relpath}::{function.qualname}', function.relpath, example


class CodeSummaries(offline.OfflineBuilder):
  """Python functions' code and their docstrings' summary lines."""

  BUILDER_CONFIGS = python_sources.source_configs()

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=(
            'Functions and methods of the standard library of Python '
            f'{platform.python_version()} (parsed with `ast`, never imported; test '
            'directories excluded) whose docstring opens with a summary paragraph. summary: '
            'that paragraph, whitespace collapsed, '
            f'{docstring_rules.MIN_SUMMARY_WORDS}-{docstring_rules.MAX_SUMMARY_WORDS} '
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
      yield offline.hash_split(relpath, offline.TRAIN_VALIDATION_TEST), key, example


def prepare(source: str, data_dir: str | None = None) -> CodeSummaries:
  """Prepares `code_summaries/<source>` in `data_dir` if needed (offline: seconds for stdlib,
  minutes for installed) and returns the builder."""
  return offline.prepare(CodeSummaries(config=source, data_dir=data_dir))
