"""Layer walk (tar -> entries) and merge (overlay semantics, wasted bytes)."""
