"""Import aiogram with its pydantic models built on first use, not at import: ~100 MB less per process.

aiogram 3 builds a validator for each of its ~300 types (`aiogram/types/__init__.py` calls
`model_rebuild` on every one, which builds even `defer_build` models) and ~170 methods, each method
embedding copies of the types it references: importing aiogram costs ~145 MB of RSS (aiogram#1513).
A worker uses a handful of them (sendMessage, editMessageText and their Message result).

`install()` puts a finder on sys.meta_path that wraps the execution of the `aiogram` package (which
imports every submodule): while it runs, pydantic's default `defer_build` is True, and aiogram's
`model_rebuild(_types_namespace=...)` calls only record the namespace in the type's module (the
names its annotations import under TYPE_CHECKING) instead of building. A model is built the first time
it validates or serializes, resolving its annotations from that module. Behaviour is unchanged;
tests/test_aiogram_lazy.py builds every type and method afterwards. If pydantic's internals move,
aiogram is imported as usual. `mluv/__init__.py` installs it, so it works wherever `mluv` is imported
before aiogram (every entry point, and tests/conftest.py).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

PACKAGE = "aiogram"
_NAME = re.compile(r"[A-Za-z_]\w*")  # the identifiers of an annotation (aiogram's are strings)


class _LazyModels(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self) -> None:
        self._loader: Any = None

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE:
            return None
        sys.meta_path.remove(self)  # once: find the real spec, then wrap its loader
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        self._loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        from pydantic import BaseModel
        from pydantic._internal import _config

        original = BaseModel.__dict__.get("model_rebuild")
        default = _config.config_defaults.get("defer_build")
        if not isinstance(original, classmethod) or default is None:  # pydantic's internals moved
            self._loader.exec_module(module)
            return

        def record_namespace(
            cls: type[BaseModel],
            *,
            force: bool = False,
            raise_errors: bool = True,
            _parent_namespace_depth: int = 2,
            _types_namespace: dict[str, Any] | None = None,
        ) -> bool | None:
            if _types_namespace is not None and cls.__module__.startswith(f"{PACKAGE}."):
                # Only the names its annotations use, inherited ones too (pydantic resolves those in the
                # subclass's module): the whole namespace in each of ~400 modules cost ~5 MB.
                namespace = sys.modules[cls.__module__].__dict__
                for annotation in (a for base in cls.__mro__ for a in inspect.get_annotations(base).values()):
                    for name in _NAME.findall(str(annotation)):
                        if name in _types_namespace and name not in namespace:
                            namespace[name] = _types_namespace[name]
                return None
            rebuilt: bool | None = original.__func__(
                cls,
                force=force,
                raise_errors=raise_errors,
                _parent_namespace_depth=_parent_namespace_depth + 1,
                _types_namespace=_types_namespace,
            )
            return rebuilt

        _config.config_defaults["defer_build"] = True
        BaseModel.model_rebuild = classmethod(record_namespace)  # type: ignore[assignment,method-assign]
        try:
            self._loader.exec_module(module)
        finally:
            BaseModel.model_rebuild = original  # type: ignore[assignment,method-assign]
            _config.config_defaults["defer_build"] = default


def install() -> bool:
    """Defer aiogram's model building, unless aiogram is imported already (stdlib only until then)."""
    if PACKAGE in sys.modules or any(isinstance(finder, _LazyModels) for finder in sys.meta_path):
        return False
    sys.meta_path.insert(0, _LazyModels())
    return True
