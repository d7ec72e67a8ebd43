"""The best evaluation's parameters of a run, `<workdir>/checkpoints_best/<step>`, kept when
`config.early_stopping.metric` is set."""
import jax
import orbax.checkpoint as ocp

from lm_jax.train.run_dir import integrity
from lm_jax.train.run_dir.integrity import CheckpointError


class BestCheckpoint:
  """The parameters of the best evaluation so far, with {'step', 'metric', 'value'} beside them
  and an integrity manifest of the parameters (integrity.py).

  Only one step is kept: a save is made when an evaluation improves on the best, so the newest
  save is the best one.
  """

  def __init__(self, directory: str):
    self.directory = directory
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
    integrity.refuse_nonfinite(params, step, self.directory)
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
      integrity.check_restored(restored['params'], saved,
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
