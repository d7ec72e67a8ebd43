"""PEP8 violations counted by pycodestyle, as Korbak et al.'s PEP8 task counts them.

pycodestyle runs with its defaults: the default ignore list (E121, E123, E126, E226, E24, E704,
W503, W504), lines up to 79 characters, every occurrence counted, and no configuration file read
(a setup.cfg or tox.ini beside the process would otherwise change what is counted from machine
to machine). It checks the whole document at once, so that its context checks (E1 indentation,
E3 blank lines) see their context, and each violation goes to the line it reports.
"""
import pycodestyle

from lm_jax.preference.scoring import Scorer


class _LineReport(pycodestyle.BaseReport):
  """Counts each reported violation on its line, silently."""

  def __init__(self, options, num_lines: int):
    super().__init__(options)
    self.per_line = [0] * num_lines

  def error(self, line_number, offset, text, check):
    code = super().error(line_number, offset, text, check)
    if code is not None:  # counted: neither ignored nor expected
      # Checks at the end of the file (W391, W292) report the last line, or the line after it.
      self.per_line[min(max(line_number, 1), len(self.per_line)) - 1] += 1
    return code


class Pep8Scorer(Scorer):
  name = 'pep8'

  def __init__(self):
    self._options = pycodestyle.StyleGuide(parse_argv=False, config_file=False,
                                           quiet=True).options

  def violations_per_line(self, lines: list[str]) -> list[int]:
    if not lines:
      return []
    report = _LineReport(self._options, len(lines))
    pycodestyle.Checker(lines=lines, options=self._options, report=report).check_all()
    return report.per_line


_SCORER = Pep8Scorer()


def pep8_score(text: str) -> float:
  """pycodestyle violations per character of `text`; 0 for text it cannot check."""
  return _SCORER.score_text(text)
