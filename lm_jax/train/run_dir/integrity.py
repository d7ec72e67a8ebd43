"""What makes a checkpoint trustworthy: integrity manifests (a SHA-256 of every array's values,
written with the step and checked against what a restore read back, so damaged data files are an
error rather than a silently wrong, often NaN, run), the finiteness check that keeps a diverged
state unsaved, and `CheckpointError`, which anything that cannot be restored raises.

Orbax checksums no array data: zarr (its default) has no checksum over data chunks, and zarr3's
crc32c covers only a shard's index. Hence this manifest:

- It is the `integrity` item of a step, `<step>/integrity/integrity.process_<i>.json` (one file
  per host), so orbax commits it with the step's arrays: no step exists without its manifest.
- For each array, keyed by its '/'-joined tree path ('params/encoder/...', 'opt_state/0/mu/...',
  'step', 'dropout_rng'): dtype, global shape, and one SHA-256 per global region ('[0:512, 0:64]')
  over the region's dtype, shape and C-order bytes.
- An array that one host holds whole (replicated across hosts, as params and optimizer state are
  today, or all on one host) has a single region, the whole array, written by process 0 alone. An
  array spread over hosts has one region per shard with replica_id 0 (together they cover the
  array exactly once), each written by the host holding it into its own file.

What holds across topologies: a hash is of the logical values in a region, never of the files or
of a device layout, so it still checks a checkpoint restored onto another mesh. A restore checks
every saved region that lies within one shard this host holds: all of them when the restored
arrays are replicated or local, or their shards are no finer than the saved ones. A region that
the new layout splits across hosts goes unchecked.
"""
import dataclasses
import hashlib
import json

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

ITEM = 'integrity'  # the item name of the manifest within a step
_FORMAT = 1


class IntegrityError(ValueError):
  """Restored arrays differ from the hashes written when they were saved."""


class CheckpointError(RuntimeError):
  """A checkpoint could not be restored, or may not be used by this run; the message says what
  to do."""


class NonFiniteStateError(CheckpointError):
  """A state holding NaN or Inf was to be saved; nothing was written."""


def tree_path(key_path) -> str:
  """'/'-joined tree path ('params/encoder/...'): how manifests and fine-tuning name a leaf."""
  return jax.tree_util.keystr(key_path, simple=True, separator='/')


def _digest(values: np.ndarray) -> str:
  values = np.ascontiguousarray(values)
  digest = hashlib.sha256(f'{values.dtype.name}{list(values.shape)}'.encode())
  digest.update(values.reshape(-1).view(np.uint8))
  return digest.hexdigest()


def _region_name(region: tuple[slice, ...]) -> str:
  return '[' + ', '.join(f'{s.start}:{s.stop}' for s in region) + ']'


def _parse_region(name: str) -> tuple[slice, ...]:
  inner = name[1:-1]
  return tuple(slice(*map(int, part.split(':'))) for part in inner.split(', ')) if inner else ()


def _absolute(index: tuple[slice, ...], shape) -> tuple[slice, ...]:
  """A shard's index (slices that may be open, `slice(None)`) as explicit start:stop bounds."""
  return tuple(slice(*s.indices(size)[:2]) for s, size in zip(index, shape))


def _whole(x) -> tuple[slice, ...]:
  return tuple(slice(0, size) for size in np.shape(x))


def _held_whole(x) -> bool:
  return not isinstance(x, jax.Array) or x.is_fully_addressable or x.is_fully_replicated


def _host_value(x) -> np.ndarray:
  """The whole of `x` as numpy, for an array this host holds whole (see `_held_whole`)."""
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(x.addressable_data(0))  # fully replicated: any local copy is the array
  return np.asarray(x)


def manifest(tree) -> dict:
  """This host's manifest of `tree`'s arrays, hashed from host copies of exactly these values
  (taken now, one array at a time: the train step donates the state's buffers afterwards)."""
  arrays = {}
  for key_path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if _held_whole(x):
      pieces = [(_whole(x), x)] if jax.process_index() == 0 else []
    else:
      pieces = [(_absolute(s.index, x.shape), s.data) for s in x.addressable_shards
                if s.replica_id == 0]
    if pieces:
      arrays[tree_path(key_path)] = {
          'dtype': np.dtype(x.dtype).name, 'shape': list(np.shape(x)),
          'regions': {_region_name(region): _digest(_host_value(data)) for region, data in pieces}}
  return {'format': _FORMAT, 'hash': 'sha256', 'arrays': arrays}


def _merge(manifests: list[dict]) -> dict:
  """One manifest of every host's files: the regions of an array spread over hosts joined."""
  arrays = {}
  for m in manifests:
    if m.get('format') != _FORMAT:
      raise IntegrityError(f'integrity manifest format {m.get("format")!r} is not {_FORMAT}, '
                           'the one this code reads')
    for path, entry in m['arrays'].items():
      arrays.setdefault(path, {**entry, 'regions': {}})['regions'].update(entry['regions'])
  return {'format': _FORMAT, 'hash': 'sha256', 'arrays': arrays}


def _local_pieces(x) -> list[tuple[tuple[slice, ...], object]]:
  """(global region, array) for each distinct part of `x` this host can read."""
  if _held_whole(x):
    return [(_whole(x), x)]
  pieces = {}  # devices holding copies of one region: read it once
  for shard in x.addressable_shards:
    region = _absolute(shard.index, x.shape)
    pieces.setdefault(_region_name(region), (region, shard.data))
  return list(pieces.values())


def _within(inner: tuple[slice, ...], outer: tuple[slice, ...]) -> bool:
  return all(o.start <= i.start and i.stop <= o.stop for i, o in zip(inner, outer))


def verify(tree, saved: dict) -> list[str]:
  """Checks `tree` (restored arrays, or any subtree of the saved tree such as the params alone,
  as long as its paths are the saved ones) against the merged manifest `saved`.

  Raises IntegrityError naming the arrays whose values differ from their hashes. Returns the
  paths it could not check at all (no entry, or restored as another dtype), for a warning.
  """
  unchecked, damaged = [], []
  for key_path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
    path = tree_path(key_path)
    entry = saved['arrays'].get(path)
    if entry is None or entry['dtype'] != np.dtype(x.dtype).name:
      unchecked.append(path)  # a cast on restore changes the bytes, not the data's soundness
      continue
    pieces = _local_pieces(x)
    copies = {}  # host copies of the pieces, made once each
    for name, expected in entry['regions'].items():
      region = _parse_region(name)
      for i, (held, data) in enumerate(pieces):
        if _within(region, held):
          if i not in copies:
            copies[i] = _host_value(data)
          local = tuple(slice(r.start - h.start, r.stop - h.start) for r, h in zip(region, held))
          if _digest(copies[i][local]) != expected:
            damaged.append(path if name == _region_name(_whole(x)) else f'{path}{name}')
          break
  if damaged:
    more = ''
    if len(damaged) > 1:
      more = f' (and {len(damaged) - 1} more: {", ".join(damaged[1:4])}'
      more += ', ...)' if len(damaged) > 4 else ')'
    raise IntegrityError(f'array {damaged[0]}{more} does not match the hash written at save')
  return unchecked


class ManifestHandler(ocp.JsonCheckpointHandler):
  """Every host writes its own `integrity.process_<i>.json` (JsonCheckpointHandler alone writes
  from the primary host only); a restore returns all hosts' files merged into one manifest."""

  def __init__(self):
    super().__init__(
        filename=f'integrity.process_{jax.process_index()}.json',
        multiprocessing_options=ocp.options.MultiprocessingOptions(primary_host=None))

  def restore(self, directory, item=None, args=None) -> dict:
    del item, args
    files = sorted(directory.glob('integrity.process_*.json'))
    if not files:
      raise FileNotFoundError(f'No integrity.process_*.json in {directory}.')
    return _merge([json.loads(f.read_text()) for f in files])


@ocp.args.register_with_handler(ManifestHandler, for_save=True)
@dataclasses.dataclass
class ManifestSave(ocp.args.CheckpointArgs):
  item: dict  # this host's `manifest(...)`


@ocp.args.register_with_handler(ManifestHandler, for_restore=True)
@dataclasses.dataclass
class ManifestRestore(ocp.args.CheckpointArgs):
  pass


@jax.jit
def _finite(leaves):
  return jnp.stack([jnp.isfinite(x).all() for x in leaves])


def first_nonfinite(tree) -> str | None:
  """The path of the first floating leaf of `tree` holding a NaN or Inf, else None: one compiled
  reduction on the devices, of which only a bool per leaf comes back to the host."""
  floating = [(key_path, x) for key_path, x in jax.tree_util.tree_flatten_with_path(tree)[0]
              if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]
  if not floating:
    return None
  finite = _host_value(_finite([x for _, x in floating]))
  bad = np.flatnonzero(~finite)
  return tree_path(floating[bad[0]][0]) if bad.size else None


def refuse_nonfinite(tree, step: int, directory: str) -> None:
  """Raises NonFiniteStateError unless every floating array of `tree` is finite: a diverged
  state written as the newest checkpoint would be what every resume starts from."""
  path = first_nonfinite(tree)
  if path is not None:
    raise NonFiniteStateError(
        f'Not saving step {step} to {directory}: {path} holds NaN or Inf, so the run has '
        'diverged. The checkpoints already there are kept; resume from the latest with a lower '
        'learning rate, stronger clipping or --config.nonfinite=skip.')


def check_restored(restored, saved_manifest: dict | None, where: str) -> None:
  """Checks `restored` against the integrity manifest saved with it (raising IntegrityError); a
  checkpoint written before manifests existed is read unchecked, with a warning, as are arrays
  the manifest cannot check."""
  if saved_manifest is None:
    print(f'Warning: {where} has no integrity manifest (it was written before lm_jax saved '
          'one); its arrays are restored unchecked.')
    return
  unchecked = verify(restored, saved_manifest)
  if unchecked:
    print(f'Warning: {len(unchecked)} arrays of {where} were not checked against its integrity '
          f'manifest (missing from it, or restored as another dtype): {", ".join(unchecked[:4])}'
          f'{", ..." if len(unchecked) > 4 else ""}')
