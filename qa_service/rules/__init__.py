"""Rubric + utterances -> findings, score, grade: the rubric model, text normalization,
matching by phrase and by meaning, the knowledge base, the checks, scoring, the script audit and
the `similar:` lint. No database, no recognizer."""
