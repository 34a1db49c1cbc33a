"""`rag eval`: run the real pipeline on a question set and report how well it did.

Datasets (`eval.datasets`) → runner (`eval.runner`) → metrics (`eval.metrics`) → report
(`eval.report`). The `rag eval` command is registered by `eval.cli` through the
`newsrag.commands` entry point, so `rag` itself never imports this package.
"""
