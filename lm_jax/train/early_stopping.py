"""Early stopping on an eval metric, and the best checkpoint's parameters in
`<workdir>/checkpoints_best`."""
import math
import os

import jax
import orbax.checkpoint as ocp

from lm_jax.choices import EARLY_STOPPING_MODES as MODES
from lm_jax.train import checkpoint_integrity as integrity
from lm_jax.train.checkpoints import CheckpointError, check_integrity, refuse_nonfinite


class EarlyStopping:
  """Tracks the best value of `metric` over evaluations; `should_stop` once `patience`
  evaluations in a row have not improved on it (patience 0: never stop, only track the best)."""

  def __init__(self, metric: str, mode: str, patience: int):
    if mode not in MODES:
      raise ValueError(f'config.early_stopping.mode must be one of {MODES}, got {mode!r}.')
    if patience < 0:
      raise ValueError(f'config.early_stopping.patience must be >= 0, got {patience}.')
    self.metric, self.mode, self.patience = metric, mode, patience
    self.best_value: float | None = None
    self.best_step: int | None = None
    self.evals_since_best = 0

  def _improves(self, value: float) -> bool:
    if math.isnan(value):  # a diverged evaluation is never the best one
      return False
    if self.best_value is None:
      return True
    return value > self.best_value if self.mode == 'max' else value < self.best_value

  def update(self, step: int, metrics: dict) -> bool:
    """Records one evaluation; True when it is the best so far (save the best checkpoint)."""
    if self.metric not in metrics:
      raise ValueError(
          f'config.early_stopping.metric={self.metric!r} is not among the eval metrics '
          f'{sorted(metrics)}; name one of them (without the eval/ prefix).')
    value = float(metrics[self.metric])
    if self._improves(value):
      self.best_value, self.best_step, self.evals_since_best = value, int(step), 0
      return True
    self.evals_since_best += 1
    return False

  @property
  def should_stop(self) -> bool:
    return self.patience > 0 and self.evals_since_best >= self.patience

  def state_dict(self) -> dict:
    """JSON-serialisable state, saved with each checkpoint so a resumed run keeps counting."""
    return {'metric': self.metric, 'mode': self.mode, 'best_value': self.best_value,
            'best_step': self.best_step, 'evals_since_best': self.evals_since_best}

  def load_state_dict(self, state: dict) -> None:
    """Restores `state_dict()`'s output; patience stays this run's (it may be changed on resume),
    but a best value of another metric or direction would be meaningless, so that is an error."""
    if (state['metric'], state['mode']) != (self.metric, self.mode):
      raise ValueError(
          f"The checkpoint tracked early_stopping.metric={state['metric']!r} "
          f"(mode={state['mode']!r}), but this run has metric={self.metric!r} "
          f'(mode={self.mode!r}). Restore the original config.early_stopping to resume, or '
          'use another --workdir.')
    self.best_value = state['best_value']
    self.best_step = state['best_step']
    self.evals_since_best = int(state['evals_since_best'])


class BestCheckpoint:
  """The parameters of the best evaluation so far, with {'step', 'metric', 'value'} beside them
  and an integrity manifest of the parameters (checkpoint_integrity.py).

  Only one step is kept: a save is made when an evaluation improves on the best, so the newest
  save is the best one.
  """

  def __init__(self, workdir: str):
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints_best'))
    self._manager = self._open(cleanup=False)
    self._cleaned_up = False

  def _open(self, cleanup: bool) -> ocp.CheckpointManager:
    return ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True,
                                             cleanup_tmp_directories=cleanup),
        item_handlers={'params': ocp.StandardCheckpointHandler(),
                       'info': ocp.JsonCheckpointHandler(),
                       integrity.ITEM: integrity.ManifestHandler()})

  def save(self, step: int, params, info: dict) -> None:
    refuse_nonfinite(params, step, self.directory)
    if not self._cleaned_up:
      # Only a saver may remove the leftovers of interrupted saves: a reader (eval mode) might
      # remove the save in progress of a run training in the same workdir.
      self._manager.close()
      self._manager, self._cleaned_up = self._open(cleanup=True), True
    # A run resumed from a checkpoint older than the best one trains those steps again; the best
    # of that abandoned stretch (a step at or after this one) gives way to the new one.
    for old in self._manager.all_steps():
      if old >= step:
        self._manager.delete(old)
    self._manager.save(step, args=ocp.args.Composite(**{
        'params': ocp.args.StandardSave(params), 'info': ocp.args.JsonSave(info),
        integrity.ITEM: integrity.ManifestSave(integrity.manifest(params))}), force=True)

  def restore_params(self, abstract_params):
    """(params, info) of the best checkpoint, laid out as `abstract_params` (arrays or
    ShapeDtypeStructs with shardings), or None when none has been saved."""
    step = self._manager.latest_step()
    if step is None:
      return None
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_params)
    try:
      items = {'params': ocp.args.StandardRestore(target), 'info': ocp.args.JsonRestore()}
      if integrity.ITEM in self._manager.item_metadata(step):  # absent when saved by older code
        items[integrity.ITEM] = integrity.ManifestRestore()
      restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # orbax raises many types; all mean the same thing to the user.
      raise CheckpointError(
          f'Could not restore the best checkpoint (step {step}) from {self.directory}: '
          f'{type(e).__name__}: {e}\nIt was written by another model config, or is corrupt.'
      ) from e
    saved = restored[integrity.ITEM] if integrity.ITEM in items else None
    try:
      check_integrity(restored['params'], saved,
                      f'the best checkpoint (step {step}) in {self.directory}')
    except integrity.IntegrityError as e:
      raise CheckpointError(
          f'The best checkpoint (step {step}) in {self.directory} is corrupt: {e}. Evaluate the '
          'latest checkpoint instead (--config.eval.checkpoint=latest), or delete '
          f'{self.directory}; training saves a new best at its next improvement.') from e
    return restored['params'], restored['info']

  def wait(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
