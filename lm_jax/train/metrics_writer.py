"""Writes metrics to `<workdir>/metrics.jsonl` (one JSON object per step) and TensorBoard."""
import json
import os

import jax
from tensorboardX import SummaryWriter


class MetricsWriter:
  """Host 0 writes; on the other hosts of a multi-host run (which compute the same replicated
  metrics) it does nothing, so the shared workdir holds one copy."""

  def __init__(self, workdir: str):
    self._enabled = jax.process_index() == 0
    if not self._enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')
    self._tensorboard = SummaryWriter(os.path.join(workdir, 'tensorboard'))

  def write(self, step: int, metrics: dict) -> None:
    """`metrics` maps names such as 'train/loss' to Python floats."""
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
  with open(os.path.join(workdir, 'metrics.jsonl')) as f:
    return [json.loads(line) for line in f if line.strip()]
