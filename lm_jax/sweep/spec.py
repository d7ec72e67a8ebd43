"""A sweep file: a base config and the points to run, read and checked before anything runs.

A sweep file is a small Python module (see configs/sweeps/):

  BASE = 'configs/t5_small.py:tiny'      # the config every point starts from (file[:variant])
  SEEDS = (0, 1)                         # optional: every point runs once per seed
  COMMON = {'num_train_steps': 2000}     # optional: overrides shared by every point
  METRIC, GOAL = 'eval/loss', 'min'      # optional: what `best` and the plots show
  COLUMNS = ('eval/loss', 'eval/accuracy')  # optional: the metrics results.md shows (default: all
                                         # eval/ metrics of the last evaluation)

  def points(add):                       # big_vision's sweep(add): call add once per point
    add('baseline')
    add('rope', {'model.position_embedding': 'rope'})
    for values in product({'optimizer.learning_rate': [1e-3, 3e-3], 'model.d_ff': [128, 256]}):
      add(None, values)                  # None: named from its values, lr=0.001,d_ff=128

`add(name, overrides, config=None, evaluate=None)`: `config` gives the point its own base
config; an override `'init_from': '@name'` starts the point from point `name`'s run (same seed),
which then runs first; `evaluate` (eval-mode overrides, e.g. {'eval.split': 'test',
'eval.checkpoint': 'best'}) scores the trained run once more, as `--config.mode=eval` would.
Every point's keys are set on its config and validated by the schema when the file is read, so a
typo is reported with the point and the key before any training.
"""
import dataclasses
import importlib.util
import itertools
import json
import os
import re
from typing import Any

from lm_jax import models
from lm_jax.config import schema

KNOWN_NAMES = ('BASE', 'SEEDS', 'COMMON', 'METRIC', 'GOAL', 'COLUMNS', 'points')
GOALS = ('min', 'max')
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.,=+-]*$')
REFERENCE = '@'  # 'init_from': '@point' names another point of the sweep


class SweepError(ValueError):
  """A sweep file that cannot run as written; the message names the point and the key."""


@dataclasses.dataclass(frozen=True)
class Run:
  """One point at one seed: the unit that trains, in its own workdir."""
  point: str
  seed: int
  config_spec: str  # file[:variant]
  overrides: dict   # the point's own values (COMMON and the seed not included)
  depends_on: str | None = None  # the point whose run init_from starts from
  evaluate: dict | None = None  # eval-mode overrides of the evaluation after training

  @property
  def name(self) -> str:
    return f'{self.point}/seed_{self.seed}'


@dataclasses.dataclass(frozen=True)
class Sweep:
  name: str
  path: str
  base: str
  seeds: tuple
  common: dict
  metric: str
  goal: str
  columns: tuple | None
  runs: tuple  # of Run, every dependency before its dependents

  @property
  def points(self) -> list[str]:
    return list(dict.fromkeys(run.point for run in self.runs))

  @property
  def swept_keys(self) -> list[str]:
    """Every key some point overrides, in the order they first appear."""
    keys = {}
    for run in self.runs:
      keys.update(dict.fromkeys(k for k in run.overrides if k != 'init_from'))
    return list(keys)

  def run(self, point: str, seed: int) -> Run:
    for run in self.runs:
      if (run.point, run.seed) == (point, seed):
        return run
    raise SweepError(f'{self.path} has no point {point!r} at seed {seed}; its points: '
                     f'{", ".join(self.points)}; seeds: {", ".join(map(str, self.seeds))}.')

  def workdir(self, root: str, run: Run) -> str:
    return os.path.join(root, self.name, run.point, f'seed_{run.seed}')

  def identity(self, run: Run) -> dict:
    """What makes `run` this run: stored in its status, so a point whose values changed in the
    sweep file is not mistaken for the one that finished."""
    identity = {'config': run.config_spec, 'common': self.common, 'overrides': run.overrides,
                'seed': run.seed}
    if run.evaluate is not None:
      identity['evaluate'] = run.evaluate
    return json.loads(json.dumps(identity, default=str))  # tuples and lists compare alike

  def config(self, run: Run, root: str):
    """The ConfigDict `run` trains with: its base, COMMON, its overrides, its seed."""
    config = schema.load_config(_resolve_spec(run.config_spec, self.path))
    schema.override(config, self.common)
    values = dict(run.overrides)
    if run.depends_on is not None:
      values['init_from'] = self.workdir(root, self.run(run.depends_on, run.seed))
    schema.override(config, values)
    config.seed = run.seed
    return config

  def eval_config(self, run: Run, root: str):
    """The config of `run`'s evaluation after training: its own, in eval mode, with `evaluate`."""
    config = self.config(run, root)
    schema.override(config, {'mode': 'eval', **run.evaluate})
    return config


def product(axes: dict) -> list[dict]:
  """Every combination of `{key: [values]}`, the first key varying slowest."""
  _check_axes(axes)
  return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def zip_axes(axes: dict) -> list[dict]:
  """The i-th values of every `{key: [values]}` together; the lists must be equally long."""
  _check_axes(axes)
  lengths = {key: len(values) for key, values in axes.items()}
  if len(set(lengths.values())) > 1:
    raise SweepError(f'zip_axes needs equally long value lists, got lengths {lengths}.')
  return [dict(zip(axes, values)) for values in zip(*axes.values())]


def _check_axes(axes: dict) -> None:
  if not axes:
    raise SweepError('An empty set of axes sweeps nothing: give at least one key.')
  for key, values in axes.items():
    if isinstance(values, (str, bytes)) or not hasattr(values, '__len__'):
      raise SweepError(f'Axis {key!r} needs a list of values, got {values!r}.')
    if not values:
      raise SweepError(f'Axis {key!r} has no values, so the sweep would have no points.')


def auto_name(overrides: dict) -> str:
  """{'optimizer.learning_rate': 0.001, 'model.d_ff': 128} -> 'learning_rate=0.001,d_ff=128'."""
  if not overrides:
    return 'base'
  return ','.join(f'{key.rsplit(".", 1)[-1]}={value}' for key, value in overrides.items())


def _resolve_spec(spec: str, sweep_path: str) -> str:
  """A config path relative to the working directory, else to the repository root."""
  path, sep, variant = spec.partition(':')
  if not os.path.exists(path):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.exists(os.path.join(repo, path)):
      path = os.path.join(repo, path)
  return path + sep + variant


def _load_module(path: str):
  if not os.path.isfile(path):
    raise SweepError(f'No sweep file at {path!r}.')
  module_spec = importlib.util.spec_from_file_location('_lm_jax_sweep', path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module


def _check_names(module, path: str) -> None:
  """Upper-case names a sweep file sets must be ones the runner reads: `SEED = (0, 1)` is a
  typo that would otherwise silently run one seed. A file's own constants start with '_'."""
  for name in vars(module):
    if name.isupper() and not name.startswith('_') and name not in KNOWN_NAMES:
      raise SweepError(f'{path} sets {name}, which sweeps do not read; the names a sweep file '
                       f'can set: {", ".join(KNOWN_NAMES)} (name a constant of its own '
                       f'_{name}).')
  for name in ('BASE', 'points'):
    if not hasattr(module, name):
      raise SweepError(f'{path} has no {name}; a sweep file needs BASE (a config, '
                       "'configs/<file>.py[:variant]') and points(add).")


def _collect_points(module, path: str) -> list[tuple[str, dict, str, dict | None]]:
  """[(name, overrides, config spec, evaluate)] as points(add) adds them, names checked."""
  added = []

  def add(name: str | None = None, overrides: dict | None = None, config: str | None = None,
          evaluate: dict | None = None):
    overrides = dict(overrides or {})
    name = auto_name(overrides) if name is None else name
    if not isinstance(name, str) or not _NAME.match(name):
      raise SweepError(f'{path}: point name {name!r} must be a non-empty string of letters, '
                       'digits and _.,=+- (it names the point\'s directory).')
    if any(name == seen for seen, *_ in added):
      raise SweepError(f'{path}: two points are named {name!r}; point names must be unique.')
    if 'seed' in overrides:
      raise SweepError(f'{path}: point {name!r} sets seed; seeds are the SEEDS axis.')
    if evaluate is not None and not isinstance(evaluate, dict):
      raise SweepError(f'{path}: point {name!r} has evaluate={evaluate!r}; give a dict of '
                       "eval-mode overrides, e.g. {'eval.split': 'test'}.")
    added.append((name, overrides, config or module.BASE,
                  None if evaluate is None else dict(evaluate)))

  module.points(add)
  if not added:
    raise SweepError(f'{path}: points(add) added no point, so there is nothing to run.')
  return added


def _dependency(name: str, overrides: dict, names: list[str], path: str) -> str | None:
  source = overrides.get('init_from')
  if not (isinstance(source, str) and source.startswith(REFERENCE)):
    return None
  target = source[len(REFERENCE):]
  if target not in names:
    raise SweepError(f'{path}: point {name!r} has init_from={source!r}, but the sweep has no '
                     f'point {target!r}; its points: {", ".join(names)}.')
  if target == name:
    raise SweepError(f'{path}: point {name!r} cannot start from itself (init_from={source!r}).')
  return target


def _ordered(runs: list[Run], path: str) -> list[Run]:
  """Runs with every dependency first, otherwise in the order the file added them."""
  by_point = {}
  for run in runs:
    by_point.setdefault(run.point, []).append(run)
  ordered, placed, visiting = [], set(), set()

  def place(point):
    if point in placed:
      return
    if point in visiting:
      raise SweepError(f'{path}: points {sorted(visiting)} start from each other in a cycle.')
    visiting.add(point)
    first = by_point[point][0]
    if first.depends_on is not None:
      place(first.depends_on)
    visiting.discard(point)
    placed.add(point)
    ordered.extend(by_point[point])

  for run in runs:
    place(run.point)
  return ordered


def load_sweep(path: str, root: str = 'runs') -> Sweep:
  """Reads and checks the sweep file at `path`: every point's config is built and validated
  here, so the first error is reported before any point trains. `root` only resolves the
  workdirs that '@point' references name."""
  module = _load_module(path)
  _check_names(module, path)
  seeds = tuple(getattr(module, 'SEEDS', (0,)))
  if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
    raise SweepError(f'{path}: SEEDS must be a non-empty sequence of integers, got {seeds!r}.')
  if len(set(seeds)) != len(seeds):
    raise SweepError(f'{path}: SEEDS repeats a seed: {seeds!r}.')
  goal = getattr(module, 'GOAL', 'min')
  if goal not in GOALS:
    raise SweepError(f'{path}: GOAL must be one of {GOALS}, got {goal!r}.')
  points = _collect_points(module, path)
  names = [name for name, *_ in points]
  runs = [Run(name, seed, spec, overrides, _dependency(name, overrides, names, path), evaluate)
          for name, overrides, spec, evaluate in points for seed in seeds]
  sweep = Sweep(name=os.path.splitext(os.path.basename(path))[0], path=path, base=module.BASE,
                seeds=seeds, common=dict(getattr(module, 'COMMON', {})),
                metric=getattr(module, 'METRIC', 'eval/loss'), goal=goal,
                columns=tuple(module.COLUMNS) if hasattr(module, 'COLUMNS') else None,
                runs=tuple(_ordered(runs, path)))
  for run in sweep.runs[::len(seeds)]:  # the seed changes no key, so one seed checks a point
    try:
      config = sweep.config(run, root)
      schema.validate_config(config)
      if not config.init_from:  # model values are checked when the model is built (cheap)
        models.build_model(config.model)
      if run.evaluate is not None:
        schema.validate_config(sweep.eval_config(run, root))
    except (KeyError, ValueError, TypeError, AttributeError, FileNotFoundError) as e:
      message = e.args[0] if isinstance(e, KeyError) and e.args else e
      raise SweepError(f'{path}: point {run.point!r}: {message}') from e
  return sweep


def describe(value: Any) -> str:
  """A value as the tables show it."""
  return f'{value:g}' if isinstance(value, float) else str(value)
