"""Rules of the code's shape, checked from its syntax: no module outside lm_jax/families.py
branches on a model family's name (it asks the family's declaration instead)."""
import ast
import pathlib

from lm_jax import families

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / 'lm_jax').rglob('*.py'), *(ROOT / 'experiments').rglob('*.py')])
FAMILY_MODULE = ROOT / 'lm_jax' / 'families.py'


def _names_a_family(node: ast.AST) -> bool:
  """A family name as a string, inside a tuple/list/set, or a `family` variable or attribute."""
  if isinstance(node, ast.Constant):
    return node.value in families.NAMES
  if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
    return any(_names_a_family(element) for element in node.elts)
  if isinstance(node, ast.Name):
    return node.id == 'family'
  if isinstance(node, ast.Attribute):
    return node.attr == 'family'
  return False


def _family_branches(path: pathlib.Path) -> list[str]:
  tree = ast.parse(path.read_text(), str(path))
  return [f'{path.name}:{node.lineno}: {ast.unparse(node)}' for node in ast.walk(tree)
          if isinstance(node, ast.Compare)
          and all(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops)
          and any(_names_a_family(operand) for operand in (node.left, *node.comparators))]


def test_no_branch_on_a_family_name_outside_the_family_module():
  found = [line for path in SOURCES if path != FAMILY_MODULE for line in _family_branches(path)]
  assert not found, ('Ask the family declaration (lm_jax/families.py) instead of comparing '
                     'family names:\n' + '\n'.join(found))


def test_the_check_sees_a_branch(tmp_path):
  source = tmp_path / 'branchy.py'
  source.write_text("if model.family == 'decoder_only':\n  pass\n"
                    "if family in ('encoder_decoder', 'decoder_only'):\n  pass\n"
                    "if prompt == 'decoder_prefix':\n  pass\n")
  assert len(_family_branches(source)) == 2


# The layers of lm_jax, bottom first: a module imports only from its own package and from lower
# layers, so the import graph has no upward arrow and no cycle. Modules of one layer do not
# import each other's packages (models and data stay independent, and so do generation and
# convert). docs/architecture.md says what each package owns.
LAYERS = (
    # lm_jax.preference: scorers of text (PEP8, PII), which data transforms and evaluation use.
    # lm_jax.partitioning: the mesh and every layout decision; models read the activation
    # layout a step sets (partitioning/activations.py).
    ('lm_jax.families', 'lm_jax.choices', 'lm_jax.atomic_files', 'lm_jax.preference',
     'lm_jax.partitioning'),
    ('lm_jax.models', 'lm_jax.data'),
    ('lm_jax.peft',),  # transforms of the models' parameters (prefix and prompt tuning's names)
    ('lm_jax.generation', 'lm_jax.convert'),
    ('lm_jax.evaluation',),
    ('lm_jax.config',),
    ('lm_jax.train',),
    ('lm_jax.modes',),
    ('lm_jax.main', 'lm_jax.sweep', 'lm_jax.api'),
    ('lm_jax',),  # the package's lazy entry points (lm_jax/__init__.py)
)


def _unit(module: str) -> str:
  """The entry of LAYERS that `module` belongs to (its package, or the module itself)."""
  # 'lm_jax' is the package's own __init__ alone: a new subpackage must be given its layer.
  matches = [u for layer in LAYERS for u in layer
             if module == u or (u != 'lm_jax' and module.startswith(u + '.'))]
  if not matches:
    raise AssertionError(f'{module} is in no layer of tests/test_architecture.py: add it.')
  return max(matches, key=len)


def _layer(unit: str) -> int:
  return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def _module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(ROOT).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _imports(path: pathlib.Path) -> set[str]:
  """The lm_jax modules `path` imports, anywhere in it (a function-level import is a dependency
  too)."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      found.update(f'{node.module}.{alias.name}' for alias in node.names)
  # `from lm_jax.data import tasks` names a module; `from lm_jax.x import f` a function of x.
  return {name for name in found if name.split('.')[0] == 'lm_jax'}


def test_imports_point_down_the_layers():
  wrong = []
  for path in sorted((ROOT / 'lm_jax').rglob('*.py')):
    here = _unit(_module_name(path))
    for imported in _imports(path):
      there = _unit(imported)
      if there != here and there != 'lm_jax' and _layer(there) >= _layer(here):
        wrong.append(f'{_module_name(path)} imports {imported}: {here} may not import {there}')
  assert not wrong, '\n'.join(sorted(wrong))
