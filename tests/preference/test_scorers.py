"""The scorers of lm_jax.preference against the libraries they wrap: pycodestyle's own counts
and line numbers with its default options, scrubadub's own detections."""
import inspect
import os
import subprocess
import sys
import textwrap

import pycodestyle
import pytest
import scrubadub

from lm_jax.preference import get_scorer, pep8_score

# Real code with many kinds of violation, and stdlib modules (few).
UGLY = (
    'import os, sys\n'
    'def f( a,b ):\n'
    '  x=a+b # comment\n'
    '  if x == None : return x\n'
    '  l = lambda: 0\n'
    '  return  sys.path[0] if os.sep=="/" else "a very long string that goes on and on past '
    'the limit"\n'
    'class C :\n'
    '\tpass\n'
    '\n'
    '\n'
    '\n'
    'y = [1,2 ,3]\n'
)
# pycodestyle cannot check this (it raises IndexError inside its tokenizer handling).
UNCHECKABLE = "}= \tx0\n\x0c\tf'0f\\\n\\]((\x0c"


def _documents():
  return [UGLY, inspect.getsource(textwrap), inspect.getsource(inspect)]


def _pycodestyle_count(text: str) -> int:
  """pycodestyle's own total with its default options (no config file: Checker's default)."""
  return pycodestyle.Checker(lines=text.splitlines(True), quiet=True).check_all()


@pytest.mark.parametrize('index', range(3))
def test_pep8_score_is_every_violation_per_character(index):
  text = _documents()[index]
  assert pep8_score(text) == pytest.approx(_pycodestyle_count(text) / len(text), rel=1e-12)
  assert pep8_score(text) > 0


def test_violations_go_to_the_lines_pycodestyle_reports(tmp_path):
  path = tmp_path / 'ugly.py'
  path.write_text(UGLY)
  # The command line, every occurrence (--repeat is its default), one line per violation.
  out = subprocess.run([sys.executable, '-m', 'pycodestyle', '--repeat', str(path)],
                       capture_output=True, text=True, cwd=tmp_path).stdout
  expected = [0] * len(UGLY.splitlines())
  for report in out.splitlines():
    expected[int(report.split(':')[1]) - 1] += 1
  document = get_scorer('pep8').score_document(UGLY)
  assert list(document.violations) == expected
  assert sum(expected) > 15 and 'E226' not in out  # the default ignore list applies
  assert document.line_scores[1] == expected[1] / len('def f( a,b ):\n')
  assert document.score == pytest.approx(sum(document.line_scores) / len(expected))


def test_the_whole_document_gives_the_context_checks_their_context():
  text = 'import os\ndef f():\n    return os.sep\n'
  document = get_scorer('pep8').score_document(text)
  assert document.violations == (0, 1, 0)  # E302: two blank lines expected before `def`
  alone = [sum(get_scorer('pep8').score_document(line).violations)
           for line in text.splitlines(True)]
  assert alone == [0, 0, 1]  # alone, the return line is an unexpected indent and def is fine


def test_no_configuration_file_is_read(tmp_path, monkeypatch):
  (tmp_path / 'setup.cfg').write_text('[pycodestyle]\nignore = E501\nmax-line-length = 200\n')
  monkeypatch.chdir(tmp_path)
  text = 'x = "' + 'a' * 80 + '"\n'
  (tmp_path / 'long.py').write_text(text)
  command_line = subprocess.run([sys.executable, '-m', 'pycodestyle', 'long.py'],
                                capture_output=True, text=True, cwd=tmp_path)
  assert command_line.returncode == 0 and not command_line.stdout  # the command line reads it
  assert pep8_score(text) == 1 / len(text)  # E501 at the default 79 all the same


def test_text_pycodestyle_cannot_check_scores_zero():
  with pytest.raises(IndexError):
    _pycodestyle_count(UNCHECKABLE)
  assert pep8_score(UNCHECKABLE) == 0
  assert get_scorer('pep8').score_document(UNCHECKABLE).score == 0
  assert pep8_score('') == 0


def test_pii_counts_scrubadubs_default_detections_on_their_lines():
  text = ('def send():\n'
          '    to = "jane.doe@example.org"  # or call +1 650-253-0000\n'
          '    url = "https://example.com/reset?user=jane"\n'
          '    return to\n')
  found = list(scrubadub.Scrubber().iter_filth(text))
  document = get_scorer('pii').score_document(text)
  assert sum(document.violations) == len(found) >= 2
  starts = document.line_starts
  for filth in found:
    line = max(i for i, start in enumerate(starts) if start <= filth.beg)
    assert document.violations[line] > 0
  assert document.violations[0] == document.violations[3] == 0


def test_an_unknown_scorer_is_refused_with_the_known_ones():
  with pytest.raises(ValueError, match="Unknown scorer 'toxicity'; known: pep8, pii"):
    get_scorer('toxicity')


def test_scorers_run_on_this_repository_without_a_config_file_leaking_in():
  # The repository's own sources use 2-space indents and 100 columns (STYLE.md), so PEP8's
  # defaults find violations in them; a leaked config (setup.cfg, tox.ini) could hide them.
  here = os.path.dirname(os.path.abspath(__file__))
  with open(os.path.join(here, 'test_scorers.py')) as f:
    assert pep8_score(f.read()) > 0
