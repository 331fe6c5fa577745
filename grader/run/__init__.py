"""Running student code: the engine, the sandbox and the in-process runner for tests."""
