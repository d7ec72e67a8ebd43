"""Token-level cross-entropy with label smoothing and T5X's z-loss, weighted by loss weights."""
import jax
import jax.numpy as jnp


def cross_entropy(logits, targets, weights, *, label_smoothing=0.0, z_loss=0.0):
  """Sums over weighted tokens. logits (B, T, V) float32; targets (B, T) int; weights (B, T).

  Returns a dict of sums so that data-parallel shards and accumulated steps add up exactly;
  divide by `weight_sum` for per-token means.
  """
  vocab = logits.shape[-1]
  log_z = jax.nn.logsumexp(logits, axis=-1)                       # (B, T)
  target_logits = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
  # -log p(target) without a (B, T, V) one-hot: with GPT-2's 50k vocabulary that tensor alone
  # costs more memory traffic than the output projection.
  loss = log_z - target_logits
  if label_smoothing > 0:
    confidence = 1.0 - label_smoothing
    low = label_smoothing / (vocab - 1)
    # Soft targets: `confidence` on the target, `low` on every other id.
    mean_log_prob = jnp.mean(logits, axis=-1) - log_z
    loss = (confidence - low) * loss - low * vocab * mean_log_prob
    # Subtract the entropy of the smoothed targets so a perfect model scores 0, as T5X does.
    loss -= -(confidence * jnp.log(confidence) + (vocab - 1) * low * jnp.log(low + 1e-20))
  z_term = z_loss * jnp.square(log_z)
  correct = (jnp.argmax(logits, axis=-1) == targets)
  return {
      'loss_sum': jnp.sum(loss * weights),
      'z_loss_sum': jnp.sum(z_term * weights),
      'correct_sum': jnp.sum(correct * weights),
      'weight_sum': jnp.sum(weights),
  }
