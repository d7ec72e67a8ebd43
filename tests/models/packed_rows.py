"""Rows for the packing tests of the encoder-decoders: examples padded one to a row, or packed
together into each row, in both orders, with the segment ids and positions packing writes."""
import jax.numpy as jnp


def padded(tokens: list[int], length: int) -> list[int]:
  return tokens + [0] * (length - len(tokens))  # padding: 0


def pack_both_orders(examples: list[list[int]], length: int):
  """(tokens, segment ids, positions), each (2, length): row 0 packs `examples` in order, row 1
  reversed; positions restart at 0 in each segment."""
  orders = (examples, examples[::-1])
  tokens = [padded(sum(o, []), length) for o in orders]
  segments = [padded([i + 1 for i, x in enumerate(o) for _ in x], length) for o in orders]
  positions = [padded([p for x in o for p in range(len(x))], length) for o in orders]
  return jnp.array(tokens), jnp.array(segments), jnp.array(positions)
