"""Text generation: decoding with a key/value cache (greedy, sampling, beam search), the model
calls a decoding loop makes, and the prompt conventions of each model family."""
