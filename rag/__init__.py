"""newsrag: question answering over news articles, with a citation on every claim.

`import rag` stays light: the heavy libraries (torch, llama_cpp, chromadb) load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
