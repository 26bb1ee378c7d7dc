"""Prompts, one module per stage; each exports its prompt text and the schema of its structured reply."""
