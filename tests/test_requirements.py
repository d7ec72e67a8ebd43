"""The accelerator requirement files ask for the JAX release the tests ran with, through extras
that release declares (docs/accelerators.md)."""
import importlib.metadata
import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _requirement(path: str, name: str) -> str:
  with open(os.path.join(REPO, path)) as f:
    lines = [line.split('#')[0].strip() for line in f]
  found = [line for line in lines if re.match(rf'{name}(\[|[<>=])', line)]
  assert len(found) == 1, f'{path} should name {name} once: {found}'
  return found[0]


@pytest.mark.parametrize('path, extra', [('requirements-cuda12.txt', 'cuda12'),
                                         ('requirements-cuda13.txt', 'cuda13'),
                                         ('requirements-tpu.txt', 'tpu')])
def test_accelerator_requirements_pin_the_tested_jax_with_a_real_extra(path, extra):
  with open(os.path.join(REPO, path)) as f:
    assert '-r requirements.txt' in f.read()  # everything else as tested on CPU
  requirement = _requirement(path, 'jax')
  assert requirement.startswith(f'jax[{extra}]')
  tested_range = _requirement('requirements.txt', 'jax')[len('jax'):]
  assert requirement[len(f'jax[{extra}]'):] == tested_range
  assert extra in importlib.metadata.metadata('jax').get_all('Provides-Extra')


def test_the_package_installs_the_tested_ranges_and_the_same_extras():
  import tomllib
  with open(os.path.join(REPO, 'pyproject.toml'), 'rb') as f:
    project = tomllib.load(f)
  assert project['tool']['setuptools']['dynamic']['dependencies'] == {
      'file': ['requirements.txt']}
  for extra, requirements in project['project']['optional-dependencies'].items():
    assert requirements == [_requirement(f'requirements-{extra}.txt', 'jax')]
