"""Parameter-efficient fine-tuning as transforms of any lm_jax model: LoRA adapters on the Dense
layers that target patterns name (docs/peft.md)."""
from lm_jax.peft.lora import LoraSpec, applied, check_finite, init_adapters, merge

__all__ = ['LoraSpec', 'applied', 'check_finite', 'init_adapters', 'merge']
