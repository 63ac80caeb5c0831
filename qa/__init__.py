"""inspection-qa: cited, extractive answers from children's services inspection reports, offline."""
from __future__ import annotations

__version__ = "0.1.0"
