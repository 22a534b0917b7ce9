"""Load what a command names as `module:attr`: a `Builder`, a `Workflow`, or a 0-arg factory of one.

Shared by every command that takes user code (`graph`, `worker`, `simulate`, ...). The working
directory is made importable first, as `python -m` would, so `wfkit graph orders:builder` finds
`./orders.py`. `module` may also be a path to a `.py` file (`examples/orders.py:builder`).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from wfkit import Builder, ConfigurationError, Workflow, WorkflowInfo

__all__ = ["TargetError", "load_object", "load_workflow", "make_cwd_importable", "workflow_info"]


class TargetError(ConfigurationError):
    """A `module:attr` target that cannot be loaded or is not what the command needs."""


def make_cwd_importable() -> None:
    """Put the working directory first on `sys.path` (once)."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def load_object(target: str) -> Any:
    """The object `target` names: `package.module:attr` or `path/to/file.py:attr` (`attr` may be dotted)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"expected 'module:attr' (like 'orders:builder'), got {target!r}")
    module = _import(module_name)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def load_workflow(target: str) -> Builder[Any, Any] | Workflow[Any, Any]:
    """A `wfkit.Builder` or `wfkit.Workflow` from `target`, calling it first if it is a factory."""
    obj = load_object(target)
    if not isinstance(obj, Builder | Workflow) and callable(obj) and not isinstance(obj, type):
        try:
            inspect.signature(obj).bind()
        except TypeError as exc:
            raise TargetError(f"{target} must be callable without arguments: {exc}") from None
        except ValueError:
            pass  # no signature to check (a builtin): just call it
        try:
            obj = obj()
        except ConfigurationError:
            raise
        except Exception as exc:
            raise TargetError(f"{target}() raised {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, Builder | Workflow):
        what = f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise TargetError(
            f"{target} is {what}, not a wfkit.Builder, a wfkit.Workflow or a function returning one"
        )
    return obj


def workflow_info(obj: Builder[Any, Any] | Workflow[Any, Any]) -> WorkflowInfo:
    """The `wfkit.WorkflowInfo` (status graph) of a `Builder` or `Workflow`."""
    if isinstance(obj, Builder):
        return obj._spec.info()  # the graph as declared; build() is not needed to draw it
    return obj.info


def _import(name: str) -> ModuleType:
    if name.endswith(".py") or os.sep in name or "/" in name:
        return _import_file(Path(name))
    make_cwd_importable()
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise TargetError(f"no module named {name!r} (looked in {os.getcwd()} and on sys.path)") from None
        raise TargetError(f"importing {name!r} failed: {exc}") from None
    except Exception as exc:
        raise TargetError(f"importing {name!r} failed: {type(exc).__name__}: {exc}") from None


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise TargetError(f"no such file: {path}")
    make_cwd_importable()
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # as `python path/to/file.py` would, for its sibling imports
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise TargetError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module
