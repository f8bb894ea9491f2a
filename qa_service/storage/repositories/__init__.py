"""One repository per stored noun: recordings, rubrics, evaluations, jobs, API keys. Each takes
the store's session factory; methods that take a session `s` join the caller's transaction."""
