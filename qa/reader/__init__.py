"""The extractive reader: read a sentence first, then narrow; say how likely the answer is right (read.py)."""
from qa.reader.read import Reader, Reading
from qa.reader.sentences import READ_DEPTH, Context

__all__ = ["READ_DEPTH", "Context", "Reader", "Reading"]
