"""Named extension points: what settings and options choose by name (row-init methods, training modes).

Modelled on peft's `register_peft_method`: one registration call carries a thing's name and what the
rest of domainlm needs to know of it. Settings validate a name against the registry when they are
read (not when their class is defined), so a method registered later (a plugin, a test) is accepted.
Torch-free: the settings of a recipe import this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name, in registration order (the order help texts and error messages list them in)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"A {self.what} named {name!r} is registered already.")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> None:
        del self._entries[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def lookup(self, name: str) -> T | None:
        return self._entries.get(name)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._entries.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def expected_names(names: tuple[str, ...]) -> str:
    """`'a', 'b' or 'c'`: how pydantic lists a Literal's values, so a registered name reads as one did."""
    shown = [repr(n) for n in names]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def name_schema(names: Callable[[], tuple[str, ...]]) -> core_schema.CoreSchema:
    """A pydantic schema accepting exactly the names `names()` gives when a value is validated.

    The error is pydantic's own Literal error (`literal_error`, "Input should be 'a' or 'b'"), so
    recipes and --set report an unknown name as they did when the choices were a Literal.
    """

    def check(value: Any) -> str:
        allowed = names()
        if isinstance(value, str) and value in allowed:
            return value
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected_names(allowed)})

    return core_schema.no_info_plain_validator_function(check)


def name_json_schema(names: Callable[[], tuple[str, ...]]) -> dict[str, Any]:
    return {"enum": list(names()), "type": "string"}


@dataclass(frozen=True)
class RegisteredName:
    """`Annotated[str, RegisteredName(names)]`: a setting holding one of the names `names()` gives when it is
    validated. A type checker sees a plain `str`; pydantic checks the registry (`name_schema`)."""

    names: Callable[[], tuple[str, ...]]

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return name_schema(self.names)

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return name_json_schema(self.names)
