"""Reading a run's parameters without touching the run: `init_from`, eval and generate modes, and
any model used beside the one training (a reference or reward model) read the `params` of a
train-state checkpoint and nothing else."""
import jax
import numpy as np
import orbax.checkpoint as ocp

from lm_jax.train.run_dir import integrity
from lm_jax.train.run_dir.integrity import CheckpointError


def read_only_manager(directory: str) -> ocp.CheckpointManager:
  """A manager of `<workdir>/checkpoints` that never writes: it leaves a leftover temporary
  directory alone (the run may still be saving into it), and never lists one as a step."""
  return ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(read_only=True),
                               item_handlers={'state': ocp.PyTreeCheckpointHandler(),
                                              integrity.ITEM: integrity.ManifestHandler()})


def shapes_of(tree) -> dict:
  """`tree` as jax.ShapeDtypeStructs."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(tuple(x.shape), np.dtype(x.dtype)), tree)


def latest_step(directory: str) -> int | None:
  manager = read_only_manager(directory)
  try:
    step = manager.latest_step()
  finally:
    manager.close()
  return None if step is None else int(step)


def _params_metadata(manager: ocp.CheckpointManager, step: int):
  metadata = manager.item_metadata(step)['state']
  return getattr(metadata, 'tree', metadata)['params']


def param_shapes(directory: str, step: int) -> dict:
  """The params of checkpoint `step` as jax.ShapeDtypeStructs, from its metadata alone."""
  manager = read_only_manager(directory)
  try:
    return shapes_of(_params_metadata(manager, step))
  finally:
    manager.close()


def no_checkpoint_message(directory: str) -> str:
  return (f'No checkpoint in {directory}: train first (the same command without --config.mode), '
          'or point --workdir (or config.init_from) at a trained run.')


def read_params(directory: str, step: int | None = None) -> tuple[dict, int]:
  """(params, step) of checkpoint `step` (default: the latest) as numpy arrays, checked against
  the step's integrity manifest; the optimizer state is never read. One manager is opened, as
  every host of a multi-host run opens it."""
  manager = read_only_manager(directory)
  try:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(no_checkpoint_message(directory))
    step = int(step)
    where = f'checkpoint step {step} in {directory}'
    earlier = [s for s in manager.all_steps() if s < step]
    # Deleting a damaged latest step makes the one before it the latest.
    what_to_do = (f'Delete {manager.directory / str(step)} to use step {max(earlier)}.' if earlier
                  else 'There is no earlier checkpoint to use instead.')
    try:
      params_metadata = _params_metadata(manager, step)
      # A partial restore of the `params` subtree alone: the optimizer state (2x the parameters
      # for Adam, another structure for a frozen run) is never read, and need not be known.
      item = {'params': params_metadata}
      restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), item)
      items = {'state': ocp.args.PyTreeRestore(item=item, restore_args=restore_args,
                                               partial_restore=True)}
      if integrity.ITEM in manager.item_metadata(step):  # absent when saved by older code
        items[integrity.ITEM] = integrity.ManifestRestore()
      restored = manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # orbax raises many types; all mean the same thing to the user.
      raise CheckpointError(f'Could not read the params of {where}: {type(e).__name__}: {e}\n'
                            f'The checkpoint is corrupt or unreadable. {what_to_do}') from e
  finally:
    manager.close()
  try:
    # Paths under 'params/', as saved: the manifest's entries of the rest go unused.
    integrity.check_restored(restored['state'],
                             restored[integrity.ITEM] if integrity.ITEM in items else None, where)
  except integrity.IntegrityError as e:
    raise CheckpointError(f'The params of {where} are corrupt: {e}. {what_to_do}') from e
  return restored['state']['params'], step
