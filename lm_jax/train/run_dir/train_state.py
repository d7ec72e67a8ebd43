"""The train-state checkpoints of a run, `<workdir>/checkpoints/<step>`: the train state, the
data iterator position, the loop's own JSON state (e.g. early stopping) and an integrity manifest.

Orbax writes each step to a temporary directory and renames it when complete, so a run killed
mid-save keeps its previous checkpoint; the writer removes such leftovers when it opens. Each step
carries an integrity manifest of its arrays (integrity.py), checked on restore, and a state with a
NaN or Inf is never saved. Anything that cannot be restored raises `CheckpointError`: a run never
silently starts over on top of a checkpoint it could not read, and falls back to an earlier step
only when asked (config.restore_fallback), saying which step it skipped and why.
"""
import os
from typing import Any, NamedTuple

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from lm_jax.train.run_dir import integrity
from lm_jax.train.run_dir import optimizer_placeholders as placeholders
from lm_jax.train.run_dir.integrity import CheckpointError


class Restored(NamedTuple):
  state: Any
  data_state: dict
  step: int
  extra: dict  # the JSON `extra` saved with the step; {} for checkpoints saved without one


def _on_every_host(ok: bool, step: int) -> bool:
  """Whether `ok` holds on all hosts for `step`: hosts that disagreed on whether a step is intact
  would resume from different steps.

  The step goes along with each host's verdict: a host whose own read failed inside orbax leaves
  it early, and this exchange would then meet another host's orbax barrier; that must fail
  loudly, not be taken for agreement.
  """
  if jax.process_count() == 1:
    return ok
  verdicts = multihost_utils.process_allgather(np.array([step, ok], np.int32))
  if not np.all(verdicts[:, 0] == step):
    raise CheckpointError(
        f'The hosts went out of step while restoring checkpoint step {step}: some failed to read '
        'it inside orbax while others were still reading. Each host\'s log says what it read.')
  return bool(np.all(verdicts[:, 1]))


def _why(error: Exception) -> str:
  if isinstance(error, integrity.IntegrityError):
    return f'{error}, so its data is corrupt.'
  if isinstance(error, CheckpointError):
    return str(error)
  return (f'{type(error).__name__}: {error}\nThe checkpoint is corrupt or was written by an '
          'incompatible model/optimizer.')


class Checkpointer:
  """Saves every `every_steps` (and when forced), keeps the newest `keep`, restores the latest,
  or with `restore_fallback` the newest intact step.

  `writer=False` for a process that only reads the run (eval, generate): it leaves temporary
  directories alone, as they may be the saves in progress of a run still training there.
  """

  def __init__(self, directory: str, every_steps: int, keep: int, restore_fallback: bool = False,
               writer: bool = True):
    self.directory = directory
    self.every_steps = every_steps
    self.restore_fallback = restore_fallback
    # Handlers named up front so that the items of a step on disk can be listed before restoring.
    # A save killed midway leaves `<step>.orbax-checkpoint-tmp`, never listed as a step; the
    # writer removes those (in the background, finished before its first save).
    self._manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True,
                                             cleanup_tmp_directories=writer),
        item_handlers={'state': ocp.StandardCheckpointHandler(),
                       'data': ocp.JsonCheckpointHandler(),
                       'extra': ocp.JsonCheckpointHandler(),
                       integrity.ITEM: integrity.ManifestHandler()})

  def latest_step(self):
    return self._manager.latest_step()

  def maybe_save(self, step: int, state, data_state: dict, extra: dict | None = None,
                 force: bool = False) -> bool:
    """Saves every `every_steps` (or when forced); `extra` is any JSON-serialisable dict the loop
    needs back on resume, such as the early-stopping state. A state with a NaN or Inf raises
    NonFiniteStateError instead."""
    if not force and step % self.every_steps:
      return False
    if step in self._manager.all_steps():
      return False
    integrity.refuse_nonfinite(state, step, self.directory)
    state = placeholders.strip(state)
    # The manifest is hashed now, from the very arrays handed to orbax, and committed with them.
    items = {'state': ocp.args.StandardSave(state), 'data': ocp.args.JsonSave(data_state),
             integrity.ITEM: integrity.ManifestSave(integrity.manifest(state))}
    if extra is not None:
      items['extra'] = ocp.args.JsonSave(extra)
    return self._manager.save(step, args=ocp.args.Composite(**items), force=True)

  def restore_latest(self, abstract_state) -> Restored | None:
    """The latest checkpoint as `Restored(state, data_state, step, extra)`, or None when there
    is no checkpoint yet.

    A step that cannot be restored, or whose arrays fail their integrity check, raises
    CheckpointError. With `restore_fallback` it is skipped, with a message, for the next older
    step; once one restores, the skipped steps are deleted, as the resumed run will save those
    step numbers again (and a damaged step left in place would be the latest again).
    """
    steps = sorted(self._manager.all_steps(), reverse=True)
    if not steps:
      return None
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
    skipped, errors = [], []
    for i, step in enumerate(steps):
      restored, error = self._restore_step(step, target)
      if error is None:
        if skipped:
          for old in skipped:
            self._manager.delete(old)
          print(f'Restored checkpoint step {step}, the newest intact one in {self.directory}; '
                f'deleted the skipped step(s) {", ".join(map(str, skipped))}.')
        return restored
      if not self.restore_fallback:
        raise CheckpointError(
            f'Could not restore checkpoint step {step} from {self.directory}: '
            f'{_why(error)}\n{self._what_to_do(step, steps[i + 1:])}') from error
      print(f'Skipping checkpoint step {step} in {self.directory} (config.restore_fallback): '
            f'{_why(error)}')
      skipped.append(step)
      errors.append(error)
    raise CheckpointError(
        f'No checkpoint in {self.directory} could be restored (steps '
        f'{", ".join(map(str, steps))}); the newest failed with: {_why(errors[0])}\n'
        f'Use another --workdir, or delete {self.directory} to start over.') from errors[0]

  def _restore_step(self, step: int, target) -> tuple[Restored | None, Exception | None]:
    """(restored, None), or (None, why not) when this or any other host could not restore or
    verify `step`."""
    error = None
    try:
      saved = self._manager.item_metadata(step)
      # Steps saved before format 3 hold Adafactor's placeholders; later ones leave them out.
      compact = placeholders.strip(target)
      saved_leaves = placeholders.count_leaves(getattr(saved['state'], 'tree', saved['state']))
      read_into = compact if saved_leaves == placeholders.count_leaves(compact) else target
      items = dict(state=ocp.args.StandardRestore(read_into), data=ocp.args.JsonRestore())
      # Checkpoints written before `extra` existed (or by a run without one) lack the item, and
      # those written before integrity manifests lack that.
      if 'extra' in saved:
        items['extra'] = ocp.args.JsonRestore()
      if integrity.ITEM in saved:
        items[integrity.ITEM] = integrity.ManifestRestore()
      restored = self._manager.restore(step, args=ocp.args.Composite(**items))
      integrity.check_restored(restored['state'],
                      restored[integrity.ITEM] if integrity.ITEM in items else None,
                      f'checkpoint step {step} in {self.directory}')
    except Exception as e:  # orbax raises many types; all mean the same thing to the user.
      error = e
    if not _on_every_host(error is None, step):
      return None, error or CheckpointError(
          'another host could not restore it, or found its data corrupt (that host says which).')
    return Restored(placeholders.fill(restored['state'], target), restored['data'], step,
                    restored['extra'] if 'extra' in items else {}), None

  def _what_to_do(self, step: int, earlier: list[int]) -> str:
    path = os.path.join(self.directory, str(step))
    if not earlier:
      return (f'There is no earlier checkpoint to fall back to: delete {path} to start over, or '
              'use another --workdir.')
    return (f'Resume from step {earlier[0]} with --config.restore_fallback=true, or delete '
            f'{path}, or use another --workdir.')

  def wait(self):
    self._manager.wait_until_finished()

  def close(self):
    self._manager.close()
