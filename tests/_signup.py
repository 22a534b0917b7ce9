"""luno's acceptance workflow (user sign-up), shared by test_e2e.py and test_states.py."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import wfkit


class SignUp(enum.IntEnum):
    INITIATED = 1
    PROFILE_CREATED = 2
    EMAIL_CONFIRMATION_SENT = 3
    EMAIL_VERIFIED = 4
    CELLPHONE_NUMBER_SUBMITTED = 5
    OTP_SENT = 6
    OTP_VERIFIED = 7
    COMPLETED = 8


@dataclasses.dataclass
class User:
    name: str = ""
    email: str = ""
    email_confirmed: bool = False
    cellphone: str = ""
    otp: int = 0
    otp_verified: bool = False
    completed_at: str = ""


async def create_profile(run: wfkit.Run[User, SignUp]) -> SignUp:
    run.object.name = "Andrew Wormald"
    run.object.email = "andreww@luno.com"
    return SignUp.PROFILE_CREATED


async def send_confirmation(run: wfkit.Run[User, SignUp]) -> SignUp:
    return SignUp.EMAIL_CONFIRMATION_SENT


async def email_confirmed(run: wfkit.Run[User, SignUp], payload: bytes) -> SignUp | wfkit.Skip:
    if not json.loads(payload)["confirmed"]:
        return run.skip()  # luno: an unverified email returns 0 (skip)
    run.object.email_confirmed = True
    return SignUp.EMAIL_VERIFIED


async def cellphone_submitted(run: wfkit.Run[User, SignUp], payload: bytes) -> SignUp:
    run.object.cellphone = json.loads(payload)["cellphone"]
    return SignUp.CELLPHONE_NUMBER_SUBMITTED


async def send_otp(run: wfkit.Run[User, SignUp]) -> SignUp:
    run.object.otp = 345345
    return SignUp.OTP_SENT


async def otp_received(run: wfkit.Run[User, SignUp], payload: bytes) -> SignUp | wfkit.Skip:
    if json.loads(payload)["otp"] != run.object.otp:
        return run.skip()
    run.object.otp_verified = True
    return SignUp.OTP_VERIFIED


async def complete(run: wfkit.Run[User, SignUp], now: datetime) -> SignUp:
    run.object.completed_at = now.isoformat()
    return SignUp.COMPLETED


async def ignore(run: wfkit.Run[User, SignUp]) -> None:
    return None


def sign_up_builder(
    on_complete: Callable[[wfkit.Run[User, SignUp]], Awaitable[None]] | None = None,
) -> wfkit.Builder[User, SignUp]:
    """Steps, callbacks, a 2-way parallel step, a 1 h timeout and an on_complete hook."""
    b = wfkit.Builder("user sign up", User, SignUp)
    b.add_step(SignUp.INITIATED, create_profile, SignUp.PROFILE_CREATED)
    b.add_step(SignUp.PROFILE_CREATED, send_confirmation, SignUp.EMAIL_CONFIRMATION_SENT)
    b.add_callback(SignUp.EMAIL_CONFIRMATION_SENT, email_confirmed, SignUp.EMAIL_VERIFIED)
    b.add_callback(SignUp.EMAIL_VERIFIED, cellphone_submitted, SignUp.CELLPHONE_NUMBER_SUBMITTED)
    b.add_step(SignUp.CELLPHONE_NUMBER_SUBMITTED, send_otp, SignUp.OTP_SENT, parallel=2)
    b.add_callback(SignUp.OTP_SENT, otp_received, SignUp.OTP_VERIFIED)
    b.add_timeout(SignUp.OTP_VERIFIED, wfkit.after(timedelta(hours=1)), complete, SignUp.COMPLETED)
    b.on_complete(on_complete or ignore)
    return b
