"""Build frozen slotted records on the hot path without their frozen ``__init__``.

A frozen dataclass's generated ``__init__`` sets each field with
``object.__setattr__`` (the class forbids plain assignment), about 0.1 µs a field; the
engine makes several records per order (the order, its status changes, fills, trades,
bars). For values the engine has already checked and typed, ``maker(cls)`` returns a
function that builds the very same record by calling each slot's descriptor directly:
about half the time. It is generated once per class, the way ``dataclasses`` generates
``__init__`` itself, so it always follows the class's field order.

Only for internal callers that pass every field, positionally, already valid: the
records' own ``__init__`` checks nothing either, but ``__post_init__`` (if a class ever
gets one) would be skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    """Return ``make(*values) -> cls`` that sets ``cls``'s slots in field order.

    Parameters
    ----------
    cls
        A frozen dataclass with ``slots=True`` and no ``__post_init__``.

    Returns
    -------
    Callable
        A function taking one positional argument per field, named like the fields.
    """
    if not is_dataclass(cls) or "__slots__" not in cls.__dict__ or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    names = [f.name for f in fields(cls)]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = []
    for name in names:
        env[f"_set_{name}"] = cls.__dict__[name].__set__
        body.append(f"    _set_{name}(obj, {name})\n")
    src = f"def make({', '.join(names)}):\n    obj = _new(_cls)\n{''.join(body)}    return obj\n"
    exec(src, env)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    make: Callable[..., T] = env["make"]
    make.__qualname__ = f"maker({cls.__name__})"
    make.__doc__ = f"Build a {cls.__name__} from its fields in order, without the frozen __init__."
    return make
