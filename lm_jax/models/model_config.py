"""Base class of the per-model config dataclasses: parsing `config.model` and checking values."""
import dataclasses
from typing import Any, ClassVar, Mapping

import jax.numpy as jnp

DTYPE_OPTIONS = ('float32', 'bfloat16')


class ModelConfig:
  """Mixin for frozen dataclasses holding the keys of `config.model` for one model name.

  Subclasses set NAME (the registry name) and check their values in `__post_init__` with the
  helpers below, so every bad value is reported with the config key to fix.
  """
  NAME: ClassVar[str] = ''

  @classmethod
  def from_model_config(cls, model_config: Mapping[str, Any]):
    """Validates `config.model` (a ConfigDict or dict, `name` optional) into this config."""
    values = dict(model_config.to_dict() if hasattr(model_config, 'to_dict') else model_config)
    name = values.pop('name', cls.NAME)
    if name != cls.NAME:
      raise ValueError(f'config.model.name is {name!r}, expected {cls.NAME!r}.')
    valid = [field.name for field in dataclasses.fields(cls)]
    for key in values:
      if key not in valid:
        raise ValueError(f'Unknown key config.model.{key} for model {cls.NAME!r}; valid keys: '
                         f"{', '.join(['name'] + valid)}.")
    return cls(**values)

  @property
  def compute_dtype(self):
    return jnp.dtype(self.dtype)

  def require(self, ok: bool, key: str, why: str) -> None:
    if not ok:
      raise ValueError(f'config.model.{key} {why}, got {getattr(self, key)!r}.')

  def require_positive_ints(self, *keys: str) -> None:
    for key in keys:
      value = getattr(self, key)
      self.require(not isinstance(value, bool) and isinstance(value, int) and value > 0, key,
                   'must be a positive integer')

  def require_choice(self, key: str, options) -> None:
    self.require(getattr(self, key) in options, key, f'must be one of {tuple(options)}')

  def require_bool(self, *keys: str) -> None:
    for key in keys:
      self.require(isinstance(getattr(self, key), bool), key, 'must be a bool')
