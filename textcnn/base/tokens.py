"""Reserved token ids, shared by the vocabulary (data layer) and the embedding's padding row (models layer)."""

PAD_ID, UNK_ID = 0, 1  # every Vocabulary starts <pad>, <unk>; TextCNN's embedding uses PAD_ID as padding_idx
