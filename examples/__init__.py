"""Runnable examples: `python -m examples.qa_folder` and `python -m examples.chat_agent`."""
