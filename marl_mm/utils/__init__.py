"""Utilities: the safe checkpoint loader."""


def install_safe_checkpoint_loader() -> None:
    """Placeholder until marl_mm/utils/checkpoint.py lands (same session)."""
