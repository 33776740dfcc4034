"""imgaudit: tells a team why its container image is big and exactly what to change."""

__version__ = "0.1.0"
