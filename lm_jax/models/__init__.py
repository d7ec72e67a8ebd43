"""lm_jax.models: Transformer building blocks and model families, built by name via `build_model`."""
# Importing the family modules registers them in MODELS.
from lm_jax.models import bert  # noqa: F401
from lm_jax.models import gpt  # noqa: F401
from lm_jax.models import t5  # noqa: F401
from lm_jax.models import transformer  # noqa: F401
from lm_jax.models.registry import MODELS, build_model, register_model

__all__ = ['MODELS', 'build_model', 'register_model']
