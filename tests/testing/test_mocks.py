"""Behaviour mocks (Example 45): the reset mail through a mock of the mail behaviour,
installed by config, called from the node's Mailer process."""

from __future__ import annotations

from typing import Protocol

import pytest

import otp
from actors.mailer import Mail, MailAdapter, Mailer
from hearth.testing import Conn, insert, mocks, redirected_to
from hearth.testing.mocks import MockError, UnexpectedCall

MailerMock = mocks.define(MailAdapter, name="MailerMock")

pytestmark = pytest.mark.hearth_config({"mail.adapter": MailerMock.path})


async def test_the_reset_mail_goes_out_through_the_mock(conn: Conn) -> None:
    user = await insert("user")
    sent: list[Mail] = []
    mocks.expect(MailerMock, "deliver", sent.append)

    resp = await conn.post("/password/forgot", {"email": user.email})

    assert redirected_to(resp) == "/login"
    [mail] = sent
    assert mail.to == user.email and "/password/reset/" in mail.body
    MailerMock.spec.deliver.assert_awaited_once_with(mail)


async def test_a_stub_answers_any_number_of_calls(conn: Conn) -> None:
    subjects: list[str] = []
    mocks.stub(MailerMock, "deliver", lambda mail: subjects.append(mail.subject))

    for n in range(3):
        await Mailer.deliver("ann@example.com", f"Hello {n}", "Hi")

    assert subjects == ["Hello 0", "Hello 1", "Hello 2"]


async def test_an_adapter_that_fails_is_the_callers_error(conn: Conn) -> None:
    def refuse(mail: Mail) -> None:
        raise ConnectionRefusedError("the mail server is down")

    mocks.expect(MailerMock, "deliver", refuse)

    with pytest.raises(otp.ProcessExited):
        await Mailer.deliver("ann@example.com", "Hello", "Hi")


async def test_expectations_are_used_in_order_then_the_stub(conn: Conn) -> None:
    answered: list[str] = []
    mocks.expect(MailerMock, "deliver", lambda mail: answered.append("first"))
    mocks.expect(MailerMock, "deliver", lambda mail: answered.append("second"), times=2)
    mocks.stub(MailerMock, "deliver", lambda mail: answered.append("stub"))

    for _ in range(4):
        await Mailer.deliver("ann@example.com", "Hello", "Hi")

    assert answered == ["first", "second", "second", "stub"]


# -- what fails the test -------------------------------------------------------------------------


def test_an_expectation_on_a_name_the_protocol_lacks_fails_at_definition() -> None:
    with pytest.raises(MockError, match=r"MailAdapter has no 'send' to mock \(it has: deliver\)"):
        mocks.expect(MailerMock, "send", lambda mail: None)
    with pytest.raises(MockError, match="has no 'send'"):
        mocks.stub(MailerMock, "send", lambda mail: None)


async def test_a_missing_call_fails_naming_it(conn: Conn) -> None:
    mocks.expect(MailerMock, "deliver", lambda mail: None, times=2)
    await Mailer.deliver("ann@example.com", "Hello", "Hi")

    with pytest.raises(AssertionError) as failed:
        mocks.verify(MailerMock)

    assert str(failed.value) == (
        "MailerMock.deliver was expected to be called 2 times, and was called once"
    )
    mocks.reset_all()  # this test checked the failure itself


async def test_a_call_past_the_expected_count_fails_with_both_counts(conn: Conn) -> None:
    mocks.expect(MailerMock, "deliver", lambda mail: None)
    await Mailer.deliver("ann@example.com", "One", "Hi")

    # The Mailer, the mock's caller, crashes on it: its caller sees the crash...
    with pytest.raises(otp.ProcessExited):
        await Mailer.deliver("ann@example.com", "Two", "Hi")
    # ...and the test fails even had the application swallowed it.
    with pytest.raises(AssertionError) as failed:
        mocks.verify(MailerMock)

    assert str(failed.value).startswith(
        "MailerMock.deliver was expected to be called once, and was called 2 times: (Mail("
    )
    mocks.reset_all()


async def test_a_call_nothing_expects_fails(conn: Conn) -> None:
    with pytest.raises(otp.ProcessExited):
        await Mailer.deliver("ann@example.com", "Hello", "Hi")
    with pytest.raises(AssertionError, match="nothing expects or stubs it"):
        mocks.verify(MailerMock)
    mocks.reset_all()


def test_a_call_with_the_wrong_signature_or_to_another_name_fails() -> None:
    mocks.stub(MailerMock, "deliver", lambda mail: None)

    with pytest.raises(UnexpectedCall, match=r"deliver was called with \('a', 'b'\)"):
        MailerMock.deliver("a", "b")
    with pytest.raises(UnexpectedCall, match="MailAdapter has no 'send'"):
        MailerMock.send("a")
    with pytest.raises(AssertionError) as failed:
        mocks.verify(MailerMock)

    assert len(str(failed.value).splitlines()) == 2
    mocks.reset_all()


async def test_an_assertion_inside_the_answer_fails_the_test(conn: Conn) -> None:
    def only_to_ann(mail: Mail) -> None:
        assert mail.to == "ann@example.com", f"mailed {mail.to}"

    mocks.expect(MailerMock, "deliver", only_to_ann)
    with pytest.raises(otp.ProcessExited):
        await Mailer.deliver("bob@example.com", "Hello", "Hi")

    with pytest.raises(AssertionError, match=r"MailerMock\.deliver: mailed bob@example\.com"):
        mocks.verify(MailerMock)
    mocks.reset_all()


class Payments(Protocol):
    """A behaviour with a sync and an async method, as an application defines its own."""

    def quote(self, amount: int) -> int: ...

    async def charge(self, amount: int, customer_id: str) -> dict[str, object]: ...


PaymentsMock = mocks.define(Payments)


async def test_a_mock_of_any_protocol_answers_sync_and_async_methods() -> None:
    async def charge(amount: int, customer_id: str) -> dict[str, object]:
        return {"id": "ch_123", "amount": amount}  # an answer may be a coroutine function

    mocks.expect(PaymentsMock, "charge", charge)
    mocks.expect(PaymentsMock, "charge", lambda amount, customer_id: {"error": "declined"})
    mocks.stub(PaymentsMock, "quote", lambda amount: amount + 30)

    assert PaymentsMock.name == "PaymentsMock"
    assert await PaymentsMock.charge(1000, customer_id="cus_1") == {"id": "ch_123",
                                                                    "amount": 1000}
    assert await PaymentsMock.charge(5, "cus_2") == {"error": "declined"}
    assert PaymentsMock.quote(1000) == 1030
    PaymentsMock.spec.charge.assert_any_await(1000, customer_id="cus_1")


def test_a_name_is_one_mock_of_one_protocol() -> None:
    assert mocks.define(MailAdapter, name="MailerMock") is MailerMock
    with pytest.raises(MockError, match="defined already, of MailAdapter"):
        mocks.define(Payments, name="MailerMock")


async def test_a_mail_server_down_does_not_tell_who_has_an_account(
    conn: Conn, caplog: pytest.LogCaptureFixture
) -> None:
    user = await insert("user")

    def down(mail: Mail) -> None:
        raise ConnectionRefusedError("the mail server is down")

    mocks.stub(MailerMock, "deliver", down)
    known = await conn.post("/password/forgot", {"email": user.email})
    unknown = await conn.post("/password/forgot", {"email": "nobody@example.com"})

    assert (known.status, known.location) == (unknown.status, unknown.location) == (303,
                                                                                    "/login")
    assert f"mail to {user.email} not sent: 'Reset your Hearth password'" in caplog.text
