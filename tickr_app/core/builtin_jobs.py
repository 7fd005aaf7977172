"""Where the built-in job types come from, without the core importing the layer above it.

``tickr_app`` registers its installer here when it is imported (cheaply: this module imports
nothing heavy), and ``Tickr(builtin_jobs=True)`` runs every installer on its registry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .registry import Registry

Installer = Callable[["Registry"], None]

_installers: list[Installer] = []


def add_builtin_jobs(installer: Installer) -> None:
    """Register a function that adds built-in job types to a registry."""
    if installer not in _installers:
        _installers.append(installer)


def install_builtin_jobs(registry: Registry) -> None:
    """Add every built-in job type to ``registry``."""
    for installer in _installers:
        installer(registry)
