"""The extractive reader: read a sentence first, then narrow; say how likely the answer is right (read.py)."""
from qa.reader.read import Reader, Reading
from qa.reader.sentences import READ_DEPTH, WIDER_DEPTH, Context

__all__ = ["READ_DEPTH", "WIDER_DEPTH", "Context", "Reader", "Reading"]
