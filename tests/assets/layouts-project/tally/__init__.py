"""Counts the labels of a host name: a real (tiny) use of each runtime dependency."""
