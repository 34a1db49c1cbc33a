"""`rag eval`: run the real pipeline on a question set and report how well it did.

Questions (`eval.questions`) → runner (`eval.runner`) → metrics (`eval.metrics`) → summary
(`eval.summary`) → report (`eval.report`) → files (`eval.output`, the Markdown rendered by
`eval.markdown`). The `rag eval`
command is registered by `eval.cli` through the `newsrag.commands` entry point, so `rag`
itself never imports this package.
"""
