"""Findings shared by the image advisor, `lint` and `fix`."""
