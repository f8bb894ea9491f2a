"""Use cases that own a transaction: scoring files and rescoring, queue submission, API keys."""
