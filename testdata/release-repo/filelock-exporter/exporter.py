"""Filelock exporter: copies uploads into durable storage and marks them READY."""
