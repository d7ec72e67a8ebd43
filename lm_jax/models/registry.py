"""Model registry: `config.model.name` -> a builder returning a `flax.linen.Module`."""
from typing import Callable

import flax.linen as nn
import ml_collections

ModelBuilder = Callable[[ml_collections.ConfigDict], nn.Module]

MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
  """Registers `builder(model_config) -> nn.Module` under `name`."""

  def decorator(builder: ModelBuilder) -> ModelBuilder:
    if name in MODELS:
      raise ValueError(f'Model {name!r} is already registered.')
    MODELS[name] = builder
    return builder

  return decorator


def build_model(model_config: ml_collections.ConfigDict) -> nn.Module:
  """Builds the model named by `model_config.name` from the rest of `model_config`."""
  name = model_config.get('name')
  if name not in MODELS:
    raise ValueError(
        f'Unknown model name {name!r} in config.model.name; registered models: '
        f'{sorted(MODELS)}.')
  return MODELS[name](model_config)
