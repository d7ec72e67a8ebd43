"""Orbax checkpoints of the train state, the data iterator position and the loop's own JSON state
(e.g. early stopping) in `<workdir>/checkpoints`.

Orbax writes each step to a temporary directory and renames it when complete, so a run killed
mid-save keeps its previous checkpoint. Anything that cannot be restored raises
`CheckpointError`: a run never silently starts over on top of a checkpoint it could not read.
"""
import json
import os
from typing import Any, NamedTuple

import jax
import ml_collections
import orbax.checkpoint as ocp

# Config sections that change the shape or meaning of saved arrays; resuming with other values
# would either fail deep inside orbax or, worse, silently train a different experiment.
_RESUME_CRITICAL = ('model', 'optimizer.name', 'data.objective', 'data.task', 'finetune.mode')


class CheckpointError(RuntimeError):
  pass


class Restored(NamedTuple):
  state: Any
  data_state: dict
  step: int
  extra: dict  # the JSON `extra` saved with the step; {} for checkpoints saved without one


def _lookup(config_dict, dotted):
  value = config_dict
  for part in dotted.split('.'):
    value = value.get(part) if isinstance(value, dict) else None
  return value


class Checkpointer:
  """Saves every `every_steps` (and when forced), keeps the newest `keep`, restores the latest."""

  def __init__(self, workdir: str, every_steps: int, keep: int):
    self.directory = os.path.abspath(os.path.join(workdir, 'checkpoints'))
    self.every_steps = every_steps
    # Handlers named up front so that the items of a step on disk can be listed before restoring.
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True),
        item_handlers={'state': ocp.StandardCheckpointHandler(),
                       'data': ocp.JsonCheckpointHandler(),
                       'extra': ocp.JsonCheckpointHandler()})
    self._config_path = os.path.join(workdir, 'config.json')

  def latest_step(self):
    return self._manager.latest_step()

  def check_config(self, config: ml_collections.ConfigDict, write: bool = True) -> None:
    """Refuses to resume a workdir whose checkpoints were written by an incompatible config;
    records this run's config unless `write` is False (reading a checkpoint, not training: then
    only the model must match, as eval and generate modes read the parameters alone)."""
    current = json.loads(config.to_json_best_effort())
    if os.path.exists(self._config_path) and self.latest_step() is not None:
      with open(self._config_path) as f:
        saved = json.load(f)
      for key in _RESUME_CRITICAL if write else ('model',):
        if _lookup(saved, key) != _lookup(current, key):
          raise CheckpointError(
              f'{self.directory} holds checkpoints of a run with config {key}='
              f'{_lookup(saved, key)!r}, but this run has {key}={_lookup(current, key)!r}. '
              f'Use another --workdir, or restore the original config to resume.')
    if not write or jax.process_index() != 0:  # one copy in a multi-host run's shared workdir
      return
    os.makedirs(os.path.dirname(self._config_path), exist_ok=True)
    # Write then rename: another host may be reading the previous copy.
    with open(f'{self._config_path}.tmp', 'w') as f:
      json.dump(current, f, indent=2)
    os.replace(f'{self._config_path}.tmp', self._config_path)

  def maybe_save(self, step: int, state, data_state: dict, extra: dict | None = None,
                 force: bool = False) -> bool:
    """Saves every `every_steps` (or when forced); `extra` is any JSON-serialisable dict the loop
    needs back on resume, such as the early-stopping state."""
    if not force and step % self.every_steps:
      return False
    if step in self._manager.all_steps():
      return False
    items = dict(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state))
    if extra is not None:
      items['extra'] = ocp.args.JsonSave(extra)
    return self._manager.save(step, args=ocp.args.Composite(**items), force=True)

  def restore_latest(self, abstract_state) -> Restored | None:
    """The latest checkpoint as `Restored(state, data_state, step, extra)`, or None when there
    is no checkpoint yet."""
    step = self.latest_step()
    if step is None:
      return None
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
    try:
      items = dict(state=ocp.args.StandardRestore(target), data=ocp.args.JsonRestore())
      # Checkpoints written before `extra` existed (or by a run without one) lack the item.
      if 'extra' in self._manager.item_metadata(step):
        items['extra'] = ocp.args.JsonRestore()
      restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    except Exception as e:  # orbax raises many types; all mean the same thing to the user.
      raise CheckpointError(
          f'Could not restore checkpoint step {step} from {self.directory}: '
          f'{type(e).__name__}: {e}\nThe checkpoint is corrupt or was written by an incompatible '
          f'model/optimizer. Delete {os.path.join(self.directory, str(step))} to fall back to an '
          f'earlier step, or use another --workdir.') from e
    return Restored(restored['state'], restored['data'], step,
                    restored['extra'] if 'extra' in items else {})

  def wait(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
