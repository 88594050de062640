"""A deck-named plugin module that fails on import (tests: a clear error, not a traceback)."""

raise RuntimeError("boom on import")
