"""The `tools/list` answer kept between starts, checked against its sources like a `.pyc`.

Writing every tool's entry means importing every tool module (and through them pydantic and the
services they wrap) and reading their type hints: tens of milliseconds that a daemon pays at
each start although the entries only change when the code does. So the first start writes the
entries, which module serves each tool, and the size and mtime of every source file that was
loaded to produce them (the whole `swarm_mcp` package as imported then, plus pydantic's and
typing_extensions' own files) to `tools/__pycache__/catalog.<python tag>.<areas>.json`. A later start
whose sources all match serves `tools/list` from that file and imports a tool module only when
one of its tools is first called. Any change (an edited tool, an upgraded pydantic, another
Python) invalidates it, and the daemon writes a new one. A folder that cannot be written just
means no cache.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ("Catalog", "CatalogEntry", "default_catalog")

FORMAT = 1
_DEPENDENCIES = ("pydantic", "pydantic_core", "typing_extensions", "annotated_types")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """What a valid catalog holds: the listing, in order, and the module of each tool."""

    listing: list[dict[str, Any]]
    modules: dict[str, list[str]]  # module name -> its tools, in registration order


def _stamp(path: str) -> list[Any] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [path, info.st_size, info.st_mtime_ns]


def _sources() -> list[list[Any]]:
    """The files whose contents decided the listing: swarm_mcp as loaded now, and the libraries
    that define how schemas are written."""
    package_dir = str(Path(__file__).resolve().parent.parent)
    files = sorted(
        module.__file__
        for name, module in list(sys.modules.items())
        if (name == "swarm_mcp" or name.startswith("swarm_mcp.")) and getattr(module, "__file__", None)
        and str(module.__file__).startswith(package_dir)
    )
    for name in _DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            files.append(spec.origin)
    return [stamp for stamp in (_stamp(f) for f in files) if stamp is not None]


class Catalog:
    """One catalog file: `load` it if its sources are unchanged, `save` a fresh one."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, modules: Sequence[str]) -> CatalogEntry | None:
        """The cached entry, or None when absent, unreadable, for other tool modules, or stale."""
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("tag") != sys.implementation.cache_tag:
            return None
        if list(data.get("modules", {})) != list(modules):
            return None
        for source in data.get("sources", []):
            if not isinstance(source, list) or len(source) != 3 or _stamp(source[0]) != source:
                return None
        return CatalogEntry(listing=data["listing"], modules={k: list(v) for k, v in data["modules"].items()})

    def save(self, listing: list[dict[str, Any]], modules: Mapping[str, list[str]]) -> bool:
        """Write the catalog atomically; False when its folder is not writable (no cache, no harm)."""
        document = {
            "format": FORMAT, "tag": sys.implementation.cache_tag, "modules": dict(modules),
            "sources": _sources(), "listing": listing,
        }
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(orjson.dumps(document))
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        return True


def default_catalog(modules: Sequence[str]) -> Catalog:
    """The catalog file for this set of tool modules, beside the package's bytecode."""
    return Catalog(Path(__file__).resolve().parent / "__pycache__" / f"catalog.{sys.implementation.cache_tag}.{'-'.join(modules)}.json")
