"""Fails when a public signature of the runtime or the generated package mentions Any:
every annotation of every public function, method, and dataclass field reachable from
the modules' `__all__`."""

from __future__ import annotations

import importlib
import inspect
import re
import sys

ANY = re.compile(r"\bAny\b")


def annotations_of(obj: object) -> dict[str, str]:
    raw = getattr(obj, "__annotations__", {})
    return {k: v if isinstance(v, str) else repr(v) for k, v in raw.items()}


def main(modules: list[str]) -> int:
    found: list[str] = []
    checked = 0
    for name in modules:
        module = importlib.import_module(name)
        for export in module.__all__:
            obj = getattr(module, export)
            targets: list[tuple[str, object]] = [(export, obj)]
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    if member.startswith("_") and member != "__init__":
                        continue
                    if isinstance(value, property):
                        value = value.fget
                    if callable(value):
                        targets.append((f"{export}.{member}", value))
            for label, target in targets:
                for key, text in annotations_of(target).items():
                    checked += 1
                    if ANY.search(text):
                        found.append(f"{name}.{label}: {key}: {text}")
    for line in found:
        print(line)
    print(f"checked {checked} annotations")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
