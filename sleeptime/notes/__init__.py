"""Note checking: the safe evaluator of note lines and the hygiene and merge of learned notes."""
