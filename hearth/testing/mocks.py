"""Behaviour mocks (Mox's, seed Example 45): a mock that implements exactly one protocol.

Define a mock once, at the top of a test module (as ``Mox.defmock`` in ``test_helper.exs``),
install it in the node under test through its config key, and set expectations per test::

    MailerMock = mocks.define(MailAdapter, name="MailerMock")

    @pytest.mark.hearth_config({"mail.adapter": MailerMock.path})
    async def test_reset_mail_goes_out(conn):
        sent = []
        mocks.expect(MailerMock, "deliver", lambda mail: sent.append(mail))
        await conn.post("/password/forgot", {"email": user.email})
        assert "/password/reset/" in sent[0].body

``expect(mock, name, fn, times=1)`` says the node will call ``name`` exactly ``times`` times,
each answered by ``fn`` (expectations on one name are used in the order they were set);
``stub(mock, name, fn)`` answers any number of calls after the expectations are used up.
When the test ends (the plugin's ``verify_on_exit``) every mock is verified and reset: an
expected call that did not come fails the test, naming it and both counts.

The mock is ``unittest.mock.create_autospec`` of the protocol, behind a guard that fails
the test (not only the caller) on a call to anything the protocol lacks, a call whose
arguments its signature does not accept, a call nothing expects, a call past its expected
count, and an ``AssertionError`` raised by ``fn``: the node may swallow the exception (a
crash its supervisor restarts), the test still fails. Calls can come from any process of the
node (the Mailer, a channel, a task), as in Mox's global mode: a test process has one node.
``mock.spec`` is the autospec, for ``assert_awaited_once_with`` and the other asserts.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock as _unittest_mock

from hearth.behaviours import protocol_methods

__all__ = ["Mock", "MockError", "UnexpectedCall", "define", "expect", "reset_all", "stub",
           "verify", "verify_all"]

_DEFINED: dict[str, Mock] = {}


class MockError(Exception):
    """A mock was set up wrong: a method its protocol lacks, a name defined twice."""


class UnexpectedCall(AssertionError):
    """A mock was called as no expectation or stub allows."""


@dataclass
class _Expectation:
    fn: Callable[..., Any]
    times: int
    calls: int = 0


class Mock:
    """A mock of ``protocol``; made by :func:`define`."""

    def __init__(self, protocol: type, name: str) -> None:
        self._protocol = protocol
        self._name = name
        self._methods = protocol_methods(protocol)
        self.spec = _unittest_mock.create_autospec(protocol, instance=True, spec_set=True)
        self._expected: dict[str, deque[_Expectation]] = {}
        self._used: dict[str, list[_Expectation]] = {}
        self._stubs: dict[str, Callable[..., Any]] = {}
        self._failures: list[str] = []
        for method in self._methods:
            getattr(self.spec, method).side_effect = self._answerer(method)

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        """What a config key naming an implementation takes to install this mock."""
        return f"{__name__}:{self._name}"

    def __repr__(self) -> str:
        return f"<Mock {self._name} of {self._protocol.__name__}>"

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):  # introspection (unittest.mock's own, copy, pickle...)
            raise AttributeError(attr)
        if attr not in self._methods:
            self._fail(f"{self._name}.{attr} was used, and {self._protocol.__name__} has no "
                       f"{attr!r} (it has: {', '.join(sorted(self._methods))})")
            raise UnexpectedCall(self._failures[-1])
        signature = inspect.signature(self._methods[attr])
        method = getattr(self.spec, attr)

        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                signature.bind(None, *args, **kwargs)
            except TypeError as e:
                self._fail(f"{self._name}.{attr} was called with {_shown(args, kwargs)}, "
                           f"which {self._protocol.__name__}.{attr}{signature} refuses: {e}")
                raise UnexpectedCall(self._failures[-1]) from None
            return method(*args, **kwargs)

        return checked

    # -- answering -------------------------------------------------------------------------

    def _answerer(self, method: str) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(self._methods[method]):
            async def answer_async(*args: Any, **kwargs: Any) -> Any:
                fn = self._choose(method, args, kwargs)
                try:
                    result = fn(*args, **kwargs)
                    return await result if inspect.isawaitable(result) else result
                except AssertionError as e:
                    self._fail(f"{self._name}.{method}: {e or type(e).__name__}")
                    raise

            return answer_async

        def answer(*args: Any, **kwargs: Any) -> Any:
            fn = self._choose(method, args, kwargs)
            try:
                return fn(*args, **kwargs)
            except AssertionError as e:
                self._fail(f"{self._name}.{method}: {e or type(e).__name__}")
                raise

        return answer

    def _choose(self, method: str, args: Any, kwargs: Any) -> Callable[..., Any]:
        """What answers this call: the first expectation left, else the stub."""
        queue = self._expected.get(method)
        if queue:
            expectation = queue[0]
            expectation.calls += 1
            if expectation.calls == expectation.times:
                queue.popleft()
            return expectation.fn
        if method in self._stubs:
            return self._stubs[method]
        used = self._used.get(method, [])
        if used:
            expected = sum(e.times for e in used)
            self._fail(f"{self._name}.{method} was expected to be called {_times(expected)}, "
                       f"and was called {_times(expected + 1)}: {_shown(args, kwargs)}")
        else:
            self._fail(f"{self._name}.{method} was called with {_shown(args, kwargs)}, "
                       "and nothing expects or stubs it")
        raise UnexpectedCall(self._failures[-1])

    def _fail(self, what: str) -> None:
        self._failures.append(what)

    # -- setting up and checking -----------------------------------------------------------

    def _method(self, name: str) -> str:
        if name not in self._methods:
            raise MockError(f"{self._protocol.__name__} has no {name!r} to mock (it has: "
                            f"{', '.join(sorted(self._methods))})")
        return name

    def _reset(self) -> None:
        self._expected.clear()
        self._used.clear()
        self._stubs.clear()
        self._failures.clear()
        self.spec.reset_mock()

    def _problems(self) -> list[str]:
        problems = list(self._failures)
        for method, used in self._used.items():
            for expectation in used:
                if expectation.calls < expectation.times:
                    problems.append(
                        f"{self._name}.{method} was expected to be called "
                        f"{_times(expectation.times)}, and was called "
                        f"{_times(expectation.calls)}"
                    )
        return problems


def define(protocol: type, name: str | None = None) -> Mock:
    """A mock of ``protocol`` called ``name`` (default: the protocol's name and ``Mock``);
    its :attr:`Mock.path` installs it through a config key."""
    name = name or f"{protocol.__name__}Mock"
    if not name.isidentifier():
        raise MockError(f"a mock's name must be an identifier, not {name!r}")
    known = _DEFINED.get(name)
    if known is not None and known._protocol is not protocol:
        raise MockError(f"a mock called {name!r} is defined already, of "
                        f"{known._protocol.__name__}")
    if known is None:
        known = _DEFINED[name] = Mock(protocol, name)
    return known


def expect(mock: Mock, name: str, fn: Callable[..., Any], times: int = 1) -> Mock:
    """``name`` will be called ``times`` more times, each answered by ``fn``."""
    if times < 1:
        raise MockError(f"times must be at least 1, not {times}")
    expectation = _Expectation(fn, times)
    mock._expected.setdefault(mock._method(name), deque()).append(expectation)
    mock._used.setdefault(name, []).append(expectation)
    return mock


def stub(mock: Mock, name: str, fn: Callable[..., Any]) -> Mock:
    """``name`` may be called any number of times (once expectations are used up)."""
    mock._stubs[mock._method(name)] = fn
    return mock


def verify(mock: Mock) -> None:
    """Fail if ``mock`` was used wrongly or an expected call has not come."""
    __tracebackhide__ = True
    problems = mock._problems()
    if problems:
        raise AssertionError("\n".join(problems))


def verify_all() -> None:
    """Verify every mock, then reset them all for the next test."""
    __tracebackhide__ = True
    problems = [p for m in _DEFINED.values() for p in m._problems()]
    reset_all()
    if problems:
        raise AssertionError("mock expectations were not met:\n- " + "\n- ".join(problems))


def reset_all() -> None:
    """Forget every mock's expectations, stubs and calls."""
    for m in _DEFINED.values():
        m._reset()


def __getattr__(name: str) -> Mock:
    """Mocks by name, for config keys (``"hearth.testing.mocks:MailerMock"``)."""
    try:
        return _DEFINED[name]
    except KeyError:
        raise AttributeError(f"no mock called {name!r} is defined") from None


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _shown(args: Any, kwargs: Any) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"({', '.join(parts)})"
