"""Recap's shipped story templates (TOML files), installed with the package."""
