"""When a docstring's first paragraph is a summary: the rules docstring_summaries, code_summaries
and docstring_qa share, so that their summaries are the same kind of text."""

import re

# A one- or two-word first line ("Constructor.") summarises nothing; past 40 words the
# "summary" is a paragraph of its own.
MIN_SUMMARY_WORDS, MAX_SUMMARY_WORDS = 3, 40
_PARAGRAPH_BREAK = re.compile(r'\n[ \t]*\n')
# First lines that are call signatures ("getopt(args, options) -> opts, args", "S.index(value)
# -> integer"), the pre-annotation habit of C-era modules, not prose summaries.
_SIGNATURE = re.compile(r'^[\w.]+\(|^[\w.]+\s*->')


def paragraphs_of(docstring: str) -> list[str]:
  """The non-blank paragraphs of a cleaned docstring, split at blank lines."""
  paragraphs = [p.strip('\n') for p in _PARAGRAPH_BREAK.split(docstring.strip())]
  return [p for p in paragraphs if p.strip()]


def summary_of(paragraph: str) -> str | None:
  """`paragraph` with its whitespace collapsed if it reads as a summary, else None."""
  summary = ' '.join(paragraph.split())
  if (not MIN_SUMMARY_WORDS <= len(summary.split()) <= MAX_SUMMARY_WORDS
      or _SIGNATURE.match(summary)):
    return None
  return summary
