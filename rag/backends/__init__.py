"""Backends: one module per library, each importing its library on first use."""
