"""Reading a request: the sample filters and the numbers of its query string and path, checked
(400 on a malformed one, 404 on an id no row can have); and the route shorthand.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route

from assay.core.errors import AssayError
from assay.ui.queries import SampleFilter


def sample_filter(request: Request) -> SampleFilter:
    """The sample filters of a request's query string; 400 on a malformed number."""
    q = request.query_params
    return SampleFilter(status=_text(q, "status"), reason=_text(q, "reason"), cluster=_text(q, "cluster"),
                        op=_text(q, "op"), round=int_param(request, "round"), score_min=_float(q, "score_min"),
                        score_max=_float(q, "score_max"), q=_text(q, "q"))


def _text(params: Any, name: str) -> str | None:
    value = params.get(name)
    return value.strip() if value and value.strip() else None


# SQLite integers are signed 64-bit: a larger Python int raises OverflowError inside the query.
SQLITE_INT_MAX = 2**63 - 1


def int_param(request: Request, name: str) -> int | None:
    """An optional integer query parameter; 400 when it is not one SQLite can hold."""
    value = _text(request.query_params, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number, not {value!r}") from None
    if abs(number) > SQLITE_INT_MAX:
        raise HTTPException(400, f"{name} must be a whole number below 2**63, not {value!r}")
    return number


def path_id(request: Request, name: str, what: str) -> int:
    """A row id from the path (the route's `int` convertor took digits); 404, naming it, when no row can have it."""
    value: int = request.path_params[name]
    if value > SQLITE_INT_MAX:
        raise AssayError(f"no {what} {value} in this session")
    return value


def _float(params: Any, name: str) -> float | None:
    value = _text(params, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise HTTPException(400, f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):  # NaN compares false with everything: the filter would silently match nothing
        raise HTTPException(400, f"{name} must be a finite number, not {value!r}")
    return number


def route(path: str, endpoint: Any, methods: tuple[str, ...] = ("GET",)) -> Route:
    """A route (shorthand for the page and API modules)."""
    return Route(path, endpoint, methods=list(methods))
