"""patentgen: a word-level LSTM text generator for patent abstracts and Reddit comments.

Stages, one module each: corpus -> split -> tokenizer -> windows -> embeddings -> model ->
training -> inference/sampling -> evaluate; ``runs`` owns the run folder on disk.
"""

__version__ = "0.1.0"
