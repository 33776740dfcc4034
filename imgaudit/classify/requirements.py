"""`requirements*.txt` pairs: kept for imports; the format lives in classify.projects."""

from imgaudit.classify.projects.requirements import is_dev_file, requirement_roots

__all__ = ["is_dev_file", "requirement_roots"]
