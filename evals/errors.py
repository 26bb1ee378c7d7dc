"""Errors of the eval datasets."""

from __future__ import annotations

from pathlib import Path


class DatasetError(Exception):
    """A dataset cannot be loaded (missing files, unknown name, hub unavailable)."""


class TemplateError(DatasetError):
    """A GSM-Symbolic template cannot be parsed, evaluated or satisfied."""


def require_path(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(
            f"{what} not found at {path}. Point --data-dir (data_dir=) at a folder laid out like "
            f"../shared/data (gsm-symbolic/..., aime-2024/...)."
        )
    return path
