"""Writes metrics to `<workdir>/metrics.jsonl` (one JSON object per step) and TensorBoard.

A resumed run repeats the steps after its checkpoint, so opening the writer at the resumed step
first drops every row after it (and a half-written last line) from `metrics.jsonl`, rewriting the
file atomically, and tells TensorBoard to hide its events from the next step on. The old event
files still hold those duplicates: anything that plots or tabulates reads `metrics.jsonl`.
"""
import json
import os

import jax
from tensorboardX import SummaryWriter

from lm_jax import atomic_files

FILENAME = 'metrics.jsonl'


def _rows_up_to(path: str, step: int) -> list[str]:
  """The lines of `path` that parse and log a step <= `step` (a kill can cut the last line)."""
  kept = []
  with open(path) as f:
    for line in f:
      try:
        row = json.loads(line)
      except json.JSONDecodeError:
        continue
      if isinstance(row, dict) and row.get('step', step + 1) <= step:
        kept.append(line if line.endswith('\n') else line + '\n')
  return kept


def truncate_after(workdir: str, step: int) -> None:
  """Keeps the rows of `<workdir>/metrics.jsonl` up to `step`: write then rename, so a kill
  leaves either the old file or the new one."""
  path = os.path.join(workdir, FILENAME)
  if not os.path.exists(path):
    return
  atomic_files.write_text(path, ''.join(_rows_up_to(path, step)))


class MetricsWriter:
  """Host 0 writes; on the other hosts of a multi-host run (which compute the same replicated
  metrics) it does nothing, so the shared workdir holds one copy.

  `resumed_step`: the step the run starts after (0 for a fresh run); rows and TensorBoard events
  after it are from an interrupted attempt and give way to the new ones.
  """

  def __init__(self, workdir: str, resumed_step: int = 0):
    self._enabled = jax.process_index() == 0
    if not self._enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    truncate_after(workdir, resumed_step)
    self._jsonl = open(os.path.join(workdir, FILENAME), 'a')
    self._tensorboard = SummaryWriter(os.path.join(workdir, 'tensorboard'),
                                      purge_step=resumed_step + 1)

  def write(self, step: int, metrics: dict) -> None:
    """`metrics` maps names such as 'train/loss' to Python floats. The row is flushed before
    this returns, so a checkpoint saved after it never outlives its logged metrics."""
    if not self._enabled:
      return
    self._jsonl.write(json.dumps({'step': step, **metrics}) + '\n')
    self._jsonl.flush()
    for name, value in metrics.items():
      self._tensorboard.add_scalar(name, value, step)
    self._tensorboard.flush()

  def close(self) -> None:
    if not self._enabled:
      return
    self._jsonl.close()
    self._tensorboard.close()


def read_metrics(workdir: str) -> list[dict]:
  with open(os.path.join(workdir, FILENAME)) as f:
    return [json.loads(line) for line in f if line.strip()]
