"""lm_jax.data: TFDS text sources, the SentencePiece tokenizer, objectives, the batch
iterator."""
