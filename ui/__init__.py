"""newsrag's browser chat: `rag serve` starts it (see `ui.cli`)."""
