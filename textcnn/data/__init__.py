"""From files to batches: datasets, tokenizer, vocabulary, word vectors, splits and mini-batches."""
