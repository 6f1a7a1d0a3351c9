"""No ``typing.Any`` in the public API of :mod:`dugong` and :mod:`dugong.loop`.

``mypy --strict`` lets a library say ``Any`` in its own signatures, and then
silently stops checking its users' code wherever it flows.  This test walks
every name in the ``__all__`` of both modules at run time:

- functions and methods: every parameter and the return type (a parameter
  without annotation counts as ``Any``), and every ``@overload`` signature;
- classes: their ``__init__`` and the public methods (dunders included) and
  properties they or their dugong base classes define, their annotated public
  attributes and fields, and the parameterised bases they inherit from;
- type aliases and annotated constants: the alias or annotation itself.

Each hint comes from :func:`typing.get_type_hints` (``include_extras=True``)
and is searched recursively through unions, generics, ``Callable``,
``Annotated``, ``Literal`` and type variables.  ``Callable[..., T]`` counts as
``Any`` too: its arguments are unchecked.  The failure lists ``name: hint``.
"""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, Protocol, TypeVar

import pytest

PUBLIC_MODULES = ("dugong", "dugong.loop")

#: Names that annotations use but that their modules import only under
#: ``TYPE_CHECKING`` and that are not public dugong names.
EXTRA_NAMES: dict[str, object] = {"TracebackType": types.TracebackType}

#: Where dugong's own code lives: only functions written there are walked
#: (not those that namedtuple or dataclass generate).
DUGONG_DIR = Path(importlib.import_module("dugong").__file__ or "").resolve().parent

_UNANNOTATED = "(no annotation: implicitly Any)"
_UNEVALUATED = "[annotation does not evaluate at run time]"


# ------------------------------------------------------------------ finding Any


def any_in(hint: object) -> bool:
    """Return True if *hint* is ``Any`` or contains it anywhere."""
    if hint is Any:
        return True
    if isinstance(hint, str):  # an annotation that get_type_hints could not evaluate
        return re.search(r"\bAny\b", hint) is not None
    if isinstance(hint, list):  # the argument list of Callable[[A, B], R]
        return any(any_in(arg) for arg in hint)
    if isinstance(hint, TypeVar):
        return any_in(hint.__bound__) or any(any_in(c) for c in hint.__constraints__)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return False  # its arguments are values, not types
    if origin is Annotated:
        return any_in(args[0])  # the rest is metadata
    if origin is collections.abc.Callable and args and args[0] is Ellipsis:
        return True  # Callable[..., T]: the arguments are Any
    return any(any_in(arg) for arg in args)


def public_names() -> Iterator[tuple[str, object]]:
    """``(qualified name, object)`` for every public name."""
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            yield f"{module_name}.{name}", getattr(module, name)


def namespace() -> dict[str, object]:
    """What the string annotations of dugong's modules may refer to."""
    names: dict[str, object] = dict(EXTRA_NAMES)
    for qualified, value in public_names():
        names[qualified.rpartition(".")[2]] = value
    return names


def _written_in(function: object, where: Path | None) -> bool:
    code = getattr(function, "__code__", None)
    if where is None or code is None:
        return code is not None
    return Path(code.co_filename).resolve().is_relative_to(where)


def function_hints(
    label: str, function: Callable[..., object], names: dict[str, object], skip_first: bool
) -> Iterator[tuple[str, object]]:
    """The parameter and return hints of *function*; unannotated parameters as ``Any``.

    If the annotations do not evaluate, they are given as their source text
    (labelled so), which :func:`any_in` searches for ``Any``.
    """
    try:
        hints = typing.get_type_hints(function, localns=names, include_extras=True)
    except Exception as exc:
        texts = [f"{name}: {text}" for name, text in inspect.get_annotations(function).items()]
        yield f"{label} {_UNEVALUATED} {type(exc).__name__}: {exc}", "; ".join(texts)
        return
    parameters = list(inspect.signature(function).parameters.values())
    if skip_first and parameters:
        parameters = parameters[1:]  # self or cls
    for parameter in parameters:
        if parameter.name in hints:
            yield f"{label}({parameter.name})", hints[parameter.name]
        else:
            yield f"{label}({parameter.name}) {_UNANNOTATED}", Any
    if "return" in hints:
        yield f"{label} -> return", hints["return"]
    elif function.__name__ != "__init__":
        yield f"{label} -> return {_UNANNOTATED}", Any


def _overloads(function: Callable[..., object]) -> list[Callable[..., object]]:
    if sys.version_info >= (3, 11):
        return list(typing.get_overloads(function))
    return []  # typing.get_overloads is new in 3.11: 3.10 checks the implementation only


def callable_hints(
    label: str,
    function: Callable[..., object],
    names: dict[str, object],
    where: Path | None,
    skip_first: bool,
) -> Iterator[tuple[str, object]]:
    """The hints of *function* and of its ``@overload`` signatures."""
    if not _written_in(function, where):
        return
    yield from function_hints(label, function, names, skip_first)
    for number, overload in enumerate(_overloads(function), start=1):
        yield from function_hints(f"{label} [overload {number}]", overload, names, skip_first)


def _own_classes(cls: type, where: Path | None) -> list[type]:
    """*cls* and its bases whose code is in *where* (dugong's classes), most derived first."""
    own: list[type] = []
    for klass in cls.__mro__:
        if klass is object or klass is Generic or klass is Protocol:
            continue
        source = getattr(sys.modules[klass.__module__], "__file__", None)
        if where is None or (source is not None and Path(source).resolve().is_relative_to(where)):
            own.append(klass)
    return own


def class_hints(
    label: str, cls: type, names: dict[str, object], where: Path | None
) -> Iterator[tuple[str, object]]:
    """The hints of the public surface of *cls*."""
    for base in getattr(cls, "__orig_bases__", ()):
        yield f"{label} (base class)", base
    try:
        attributes = typing.get_type_hints(cls, localns=names, include_extras=True)
    except Exception as exc:
        texts = [f"{name}: {text}" for name, text in inspect.get_annotations(cls).items()]
        yield f"{label} {_UNEVALUATED} {type(exc).__name__}: {exc}", "; ".join(texts)
        attributes = {}
    for name, hint in attributes.items():
        if not name.startswith("_"):
            yield f"{label}.{name}", hint
    seen: set[str] = set()
    for klass in _own_classes(cls, where):
        for name, member in vars(klass).items():
            if name in seen or (name.startswith("_") and not name.startswith("__")):
                continue
            seen.add(name)
            member_label = f"{label}.{name}"
            if isinstance(member, property):
                if member.fget is not None:
                    yield from callable_hints(member_label, member.fget, names, where, True)
            elif isinstance(member, staticmethod):
                yield from callable_hints(member_label, member.__func__, names, where, False)
            elif isinstance(member, classmethod):
                yield from callable_hints(member_label, member.__func__, names, where, True)
            elif inspect.isfunction(member):
                yield from callable_hints(member_label, member, names, where, True)


def object_hints(
    label: str, value: object, names: dict[str, object], where: Path | None, module: str
) -> Iterator[tuple[str, object]]:
    """The hints of one public object: a class, a function, a type alias or a constant."""
    # Aliases first: on 3.10, inspect.isclass(dict[str, int]) is True.
    if typing.get_origin(value) is not None or isinstance(value, TypeVar):
        yield f"{label} (type alias)", value
    elif inspect.isclass(value):
        yield from class_hints(label, value, names, where)
    elif inspect.isfunction(value):
        yield from callable_hints(label, value, names, where, False)
    else:
        yield from constant_hints(label, names, module)


def constant_hints(label: str, names: dict[str, object], module: str) -> Iterator[tuple[str, object]]:
    """The annotation of a constant, from the dugong module that defines it, if any."""
    name = label.rpartition(".")[2]
    for module_name, loaded in sorted(sys.modules.items()):
        if not (module_name == module or module_name.startswith(module + ".")) or loaded is None:
            continue
        annotation = vars(loaded).get("__annotations__", {}).get(name)
        if annotation is None:
            continue
        if isinstance(annotation, str):
            annotation = eval(annotation, vars(loaded), names)  # dugong's own annotation text
        yield f"{label} (in {module_name})", annotation


def public_api_hints() -> Iterator[tuple[str, object]]:
    """Every hint of the public API of dugong and dugong.loop."""
    names = namespace()
    for label, value in public_names():
        yield from object_hints(label, value, names, DUGONG_DIR, "dugong")


def hints_with_any(hints: Iterator[tuple[str, object]]) -> list[tuple[str, object]]:
    """The ``(name, hint)`` pairs whose hint contains ``Any``."""
    return [(label, hint) for label, hint in hints if any_in(hint)]


# ------------------------------------------------------------------ the test


def test_public_api_has_no_any() -> None:
    hints = list(public_api_hints())
    assert len(hints) > 200, "the walker found suspiciously few hints"
    found = hints_with_any(iter(hints))
    assert not found, "Any in the public API:\n" + "\n".join(f"{label}: {hint!r}" for label, hint in found)


def test_public_annotations_evaluate_at_run_time() -> None:
    """Users' tools (Sphinx, typeguard, pydantic...) call get_type_hints on the API."""
    failing = sorted({label for label, _ in public_api_hints() if _UNEVALUATED in label})
    assert not failing, "typing.get_type_hints fails on:\n" + "\n".join(failing)


def test_walker_reaches_every_kind_of_public_name() -> None:
    labels = [label for label, _ in public_api_hints()]
    for expected in (
        "dugong.HTTPConnection.__init__(resolver)",
        "dugong.HTTPConnection.co_read_response -> return",
        "dugong.HTTPConnection.closed -> return",
        "dugong.ResponseHeaders.__getitem__(name)",
        "dugong.PollNeeded.fd",
        "dugong.PollCoroutine (type alias)",
        "dugong.BUFFER_SIZE (in dugong._buffer)",
        "dugong.eval_coroutine(crt)",
        "dugong.AioFuture (base class)",
        "dugong.loop.TaskState (type alias)",
        "dugong.loop.Task.add_done_callback(callback)",
        "dugong.loop.TimerHandle.cancelled -> return",  # inherited from Handle
        "dugong.loop.Statistics.task_suspended(request)",
        "dugong.loop.ProgressState.bytes_by_key",
        "dugong.loop.run_all(coroutines)",
    ):
        assert expected in labels
    if sys.version_info >= (3, 11):
        assert "dugong.HTTPConnection.get_ssl_peercert [overload 2](binary_form)" in labels


# ------------------------------------------------------------------ the walker finds Any


_T = TypeVar("_T")
_AnyBound = TypeVar("_AnyBound", bound=Any)


class _Clean(Generic[_T]):
    value: int

    def __init__(self, value: int) -> None:
        self.value = value

    def method(self, items: list[dict[str, _T]], *, flag: bool = False) -> Callable[[int], str] | None:
        return None

    @property
    def prop(self) -> Literal["a", "b"]:
        return "a"


class _Dirty(_Clean[Any]):
    hidden: Any  # an annotated public attribute
    _private: Any  # not public: ignored

    def method(self, items: list[dict[str, Any]], *, flag: bool = False) -> Callable[[int], str] | None:
        return None

    def untyped(self, x):  # type: ignore[no-untyped-def]
        return x

    def callable_dots(self, cb: Callable[..., int]) -> None:
        pass

    def nested(self) -> Annotated[tuple[int, Callable[[Any], None]], "meta"]:
        raise NotImplementedError

    def bound(self, x: _AnyBound) -> _AnyBound:
        return x

    @property
    def prop(self) -> Literal["a", "b"]:
        return "b"

    @property
    def loose(self) -> int | Any:
        return 1

    @staticmethod
    def static(x: Any) -> None:
        pass

    def _private_method(self, x: Any) -> Any:
        return x


def _dirty_function(a: int, b: type[Any] = int) -> None:
    pass


def test_walker_finds_no_any_in_a_clean_class() -> None:
    assert hints_with_any(object_hints("Clean", _Clean, {}, None, __name__)) == []


def test_walker_finds_every_any_in_a_dirty_class() -> None:
    found = hints_with_any(object_hints("Dirty", _Dirty, {}, None, __name__))
    labels = {label for label, _ in found}
    assert labels == {
        "Dirty (base class)",
        "Dirty.hidden",
        "Dirty.method(items)",
        "Dirty.untyped(x) " + _UNANNOTATED,
        "Dirty.untyped -> return " + _UNANNOTATED,
        "Dirty.callable_dots(cb)",
        "Dirty.nested -> return",
        "Dirty.bound(x)",
        "Dirty.bound -> return",
        "Dirty.loose -> return",
        "Dirty.static(x)",
    }, found


def test_walker_finds_any_in_functions_and_aliases() -> None:
    assert hints_with_any(object_hints("f", _dirty_function, {}, None, __name__)) == [("f(b)", type[Any])]
    alias = dict[str, list[Any]]
    assert len(hints_with_any(object_hints("Alias", alias, {}, None, __name__))) == 1
    assert hints_with_any(object_hints("Clean", dict[str, list[int]], {}, None, __name__)) == []


@pytest.mark.parametrize(
    "hint",
    [
        Any,
        list[Any],
        int | Any,
        typing.Optional[Any],  # noqa: UP045 (the old spelling is tested) Callable[[Any], int], Callable[..., int],
        Annotated[Any, "x"],
        tuple[int, ...] | dict[str, Any],
        type[Any],
        _AnyBound,
    ],
)
def test_any_in_sees_through_every_construct(hint: object) -> None:
    assert any_in(hint)


@pytest.mark.parametrize(
    "hint",
    [
        int,
        object,
        None,
        list[int],
        int | None,
        Callable[[int], str],
        Literal["Any"],
        Annotated[int, Any],
        tuple[int, ...],
        _T,
    ],
)
def test_any_in_accepts_hints_without_any(hint: object) -> None:
    assert not any_in(hint)
