"""The rq side: job functions, the worker class and slots, nightly scoring."""
