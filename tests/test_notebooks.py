"""Every notebook in experiments/notebooks runs top to bottom on CPU (LM_JAX_NOTEBOOK_TEST=1
shrinks its runs to seconds), and its .ipynb holds the code of its jupytext .py twin."""
import glob
import os

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(REPO, 'experiments', 'notebooks', '*.ipynb')))


def _sources(notebook) -> list[tuple[str, str]]:
  return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_notebooks():
  assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_and_matches_its_py_twin(path, monkeypatch, data_dir):
  twin = jupytext.read(path[:-len('.ipynb')] + '.py')
  notebook = nbformat.read(path, as_version=4)
  assert _sources(notebook) == _sources(twin), (
      f'{os.path.basename(path)} and its .py differ: edit the .py, then run '
      f'`jupytext --to ipynb {os.path.relpath(path[:-6], REPO)}.py`.')
  monkeypatch.setenv('LM_JAX_NOTEBOOK_TEST', '1')
  # The session's data dir: the embedded corpus is prepared once for the whole test suite.
  monkeypatch.setenv('TFDS_DATA_DIR', data_dir)
  NotebookClient(notebook, timeout=600, kernel_name='python3',
                 resources={'metadata': {'path': REPO}}).execute()  # raises on a cell error
