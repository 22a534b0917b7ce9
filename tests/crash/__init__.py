"""The crash test: a five-step workflow and the driver that SIGKILLs its worker processes."""
