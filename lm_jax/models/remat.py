"""Rematerialisation of a stack's layers (`config.model.remat_policy`): what each layer keeps
from the forward pass for the backward pass, and what it computes again.

  none        keep everything (fastest, most activation memory)
  full        keep only each layer's inputs and recompute the rest (least memory)
  dots_saveable, dots_with_no_batch_dims_saveable
              keep the matmul outputs (all, or those without batch dimensions), recompute the
              cheap elementwise work in between (jax.checkpoint_policies)
  save_mlp_inputs
              keep only the feed-forward block's input (tagged MLP_INPUT in layers.MlpBlock),
              so the backward pass recomputes attention but not the residual stream before it

Logits and gradients are the same under every policy (tests/models/test_remat.py); only memory
and time change (experiments/benchmarks/compile_and_memory.py).
"""
import flax.linen as nn
import jax

MLP_INPUT = 'mlp_input'

_POLICIES = {
    'none': None,  # no remat
    'full': jax.checkpoint_policies.nothing_saveable,
    'dots_saveable': jax.checkpoint_policies.dots_saveable,
    'dots_with_no_batch_dims_saveable': jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    'save_mlp_inputs': jax.checkpoint_policies.save_only_these_names(MLP_INPUT),
}
REMAT_POLICIES = tuple(_POLICIES)


def rematerialized(layer_class: type[nn.Module], policy: str, static_argnums: tuple[int, ...]):
  """`layer_class`, or its rematerialised form under `policy`. static_argnums: the positions of
  the call's Python flags (deterministic, decode), counting the module itself as 0. The
  parameters keep their names and shapes: a checkpoint does not depend on the policy."""
  if policy not in _POLICIES:
    raise ValueError(f'Unknown remat_policy {policy!r}; use one of {REMAT_POLICIES}.')
  if _POLICIES[policy] is None:
    return layer_class
  return nn.remat(layer_class, policy=_POLICIES[policy], static_argnums=static_argnums)
