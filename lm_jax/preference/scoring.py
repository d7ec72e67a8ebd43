"""What every scorer of text gives: a score per line and one for the document.

Korbak et al. (2023) score a document by its segments, lines for code: a line's score is its
violations divided by its length, each token carries its line's score, and the document's score
is the mean over its lines. A scorer only says how many violations each line has; attributing
them is the scorer's job, as a check may need the whole document to judge one line (pycodestyle's
indentation and blank-line checks).
"""
import abc
import dataclasses
import itertools


def line_starts(lines) -> tuple[int, ...]:
  """The character offset at which each of `lines` (newlines kept) starts in their join."""
  return tuple(itertools.accumulate((len(line) for line in lines), initial=0))[:len(lines)]


def lines_of(text: str) -> list[str]:
  """The lines of `text`, each with its newline: split at '\n' alone, as pycodestyle reads a
  file (str.splitlines would also split at form feeds and other separators inside a line)."""
  lines = text.split('\n')
  return [line + '\n' for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


@dataclasses.dataclass(frozen=True)
class DocumentScore:
  """lines: the document's lines, each with its newline; violations and line_scores: per line;
  line_starts: each line's first character offset, to map tokens (by offset) to lines."""
  lines: tuple[str, ...]
  violations: tuple[int, ...]

  @property
  def line_scores(self) -> tuple[float, ...]:
    # A line's length counts its newline, so that an empty line with a violation (W391, a blank
    # line at the end of a file) divides by 1, not 0.
    return tuple(count / max(len(line), 1) for count, line in zip(self.violations, self.lines))

  @property
  def score(self) -> float:
    """The mean over the lines of their scores; 0 for an empty document."""
    scores = self.line_scores
    return sum(scores) / len(scores) if scores else 0.0

  @property
  def line_starts(self) -> tuple[int, ...]:
    return line_starts(self.lines)


class Scorer(abc.ABC):
  """A measure of undesirable content in text, lower is better. Subclasses count violations
  per line (`violations_per_line`); the loop, the data transforms and the evaluation use
  `score_document` and `score_text` alone, so another scorer plugs in with no change there."""
  name: str = ''

  @abc.abstractmethod
  def violations_per_line(self, lines: list[str]) -> list[int]:
    """How many violations each line of the document holds; raises on text it cannot score."""

  def score_document(self, text: str) -> DocumentScore:
    """Per-line violations of `text`, scored as one document; a text the scorer cannot score
    has none (Korbak's scorers give it 0)."""
    lines = lines_of(text)
    try:
      violations = self.violations_per_line(lines)
    except Exception:  # the checkers raise many types on malformed text; all mean "no score"
      violations = [0] * len(lines)
    return DocumentScore(tuple(lines), tuple(violations))

  def score_text(self, text: str) -> float:
    """Violations per character of the whole text, as Korbak's scorers score a sample."""
    if not text:
      return 0.0
    return sum(self.score_document(text).violations) / len(text)
