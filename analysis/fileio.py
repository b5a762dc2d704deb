"""Moved to :mod:`analysis.store.files`; this module goes once every importer is updated."""

from analysis.store.files import atomic_path, write_bytes_atomic, write_json_atomic  # noqa: F401
