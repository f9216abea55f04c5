"""Build frozen slotted records on the hot path without their frozen ``__init__``.

A frozen dataclass's generated ``__init__`` sets each field with
``object.__setattr__`` (the class forbids plain assignment), about 0.1 µs a field; the
engine makes several records per order (the order, its status changes, fills, trades,
bars). For values the engine has already checked and typed, ``maker(cls)`` returns a
function that builds the very same record in about a third of the time: it fills an
instance of a *twin* class (the same slots in the same order, without the frozen
``__setattr__``) with plain assignments, then makes it an instance of ``cls``
(``obj.__class__ = cls``, which Python allows between classes of the same layout).
From then on the record is an ordinary frozen ``cls`` instance: equal, hashed, printed
and frozen like one built by ``__init__``. A class whose layout the twin cannot match
(a slotted base class, say) gets a builder that calls each slot's descriptor instead.
The builder is generated once per class, the way ``dataclasses`` generates
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


def maker(cls: type[T], *, skips_post_init: bool = False) -> Callable[..., T]:
    """Return ``make(*values) -> cls`` that sets ``cls``'s slots in field order.

    Parameters
    ----------
    cls
        A frozen dataclass with ``slots=True`` and no ``__post_init__``.
    skips_post_init
        Allow a class with a ``__post_init__`` (which the builder does not run): for a
        caller whose values are already what it would make of them (the ledger's
        ``exact_fill``).

    Returns
    -------
    Callable
        A function taking one positional argument per field, named like the fields.
    """
    checked = hasattr(cls, "__post_init__") and not skips_post_init
    if not is_dataclass(cls) or "__slots__" not in cls.__dict__ or checked:
        raise TypeError(f"{cls.__name__} is not a slotted dataclass without __post_init__")
    names = [f.name for f in fields(cls)]
    twin = _twin(cls)
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_twin": twin}
    if twin is not None:
        body = [f"    obj.{name} = {name}\n" for name in names]
        body.append("    obj.__class__ = _cls\n")
        start = "_new(_twin)"
    else:
        body = []
        for name in names:
            # The slot's descriptor, on ``cls`` or on the base class that declares it.
            slot = next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)
            env[f"_set_{name}"] = slot.__set__
            body.append(f"    _set_{name}(obj, {name})\n")
        start = "_new(_cls)"
    src = f"def make({', '.join(names)}):\n    obj = {start}\n{''.join(body)}    return obj\n"
    exec(src, env)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    make: Callable[..., T] = env["make"]
    make.__qualname__ = f"maker({cls.__name__})"
    make.__doc__ = f"Build a {cls.__name__} from its fields in order, without the frozen __init__."
    return make


def renamer(cls: type[T], field: str) -> Callable[[T, Any], T]:
    """Return ``rename(obj, value) -> cls``: a copy of ``obj`` with ``field`` set to ``value``.

    Every slot of ``cls`` (derived ones included) is copied as it is, through the twin
    class when there is one: for records whose other slots do not depend on ``field``
    (an ``Instrument`` under another symbol), about a seventh of a copy by descriptors.
    """
    names = [n for k in reversed(cls.__mro__) for n in k.__dict__.get("__slots__", ())]
    if field not in names:
        raise TypeError(f"{cls.__name__} has no slot {field!r}")
    twin = _twin(cls)
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_twin": twin}
    if twin is not None:
        body = [f"    obj.{n} = src.{n}\n" for n in names if n != field]
        body += [f"    obj.{field} = value\n", "    obj.__class__ = _cls\n"]
        start = "_new(_twin)"
    else:
        env["_set"] = object.__setattr__
        body = [f"    _set(obj, {n!r}, src.{n})\n" for n in names if n != field]
        body.append(f"    _set(obj, {field!r}, value)\n")
        start = "_new(_cls)"
    src = f"def rename(src, value):\n    obj = {start}\n{''.join(body)}    return obj\n"
    exec(src, env)  # noqa: S102 - generated from the class's own slot names
    rename: Callable[[T, Any], T] = env["rename"]
    rename.__qualname__ = f"renamer({cls.__name__}, {field!r})"
    return rename


def _twin(cls: type) -> type | None:
    """Return a class with ``cls``'s slots and layout but plain assignment, or ``None``.

    ``None`` when an instance of it cannot become a ``cls`` (``__class__`` assignment
    checks the two layouts are the same): the caller then sets the slots through
    their descriptors.
    """
    slots = cls.__dict__["__slots__"]
    if cls.__bases__ != (object,) or isinstance(slots, str):
        return None
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(slots), "__module__": cls.__module__})
    probe: object = object.__new__(twin)
    try:
        probe.__class__ = cls
    except TypeError:
        return None
    return twin
