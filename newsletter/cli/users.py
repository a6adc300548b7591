"""`newsletter users ...`: people who sign in to the staff app, and their roles.

Each command imports what it needs when it runs (keeps `--help` fast). Every change is written
to the activity log as ``cli:<os user>``.
"""

from __future__ import annotations

import sys

import typer

from newsletter.cli._common import console, fail, load_settings, session_for

app = typer.Typer(
    help="People who sign in to the staff app (/admin/), and their roles.", no_args_is_help=True
)

ROLE_HELP = "editor, approver or admin; repeat for several (--role editor --role approver)."


def _password(given: str | None) -> str:
    from newsletter.passwords import password_problem

    if given is None:
        given = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(given)
    if problem:
        fail(problem)
    return given


@app.command()
def add(
    email: str = typer.Argument(..., help="Their email address (their sign-in name)."),
    role: list[str] = typer.Option([], "--role", "-r", help=ROLE_HELP),
    name: str = typer.Option("", "--name", help="Their name, as shown to other staff."),
    password: str | None = typer.Option(
        None, "--password", help="The password; asked for (twice, hidden) when omitted."
    ),
    invite: bool = typer.Option(
        False, "--invite", help="Email them a link to choose their own password instead."
    ),
) -> None:
    """Add a person who can sign in at /admin/ (everyone can read reports)."""
    from newsletter import accounts
    from newsletter.activity import cli_actor
    from newsletter.clock import SystemClock
    from newsletter.models import LinkPurpose
    from newsletter.passwords import hash_password

    try:
        address = accounts.normalise_email(email)
        roles = accounts.parse_roles(role)
    except accounts.AccountError as exc:
        fail(str(exc))
    hashed = None if invite else hash_password(_password(password))
    settings = load_settings()
    now = SystemClock().now()
    with session_for(settings) as session:
        try:
            user = accounts.add_user(
                session,
                email=address,
                roles=roles,
                name=name,
                password_hash=hashed,
                actor=cli_actor(),
                now=now,
            )
        except accounts.AccountError as exc:
            fail(str(exc))
        url = None
        if invite:
            from newsletter.web.staff import links

            url = links.issue(session, user, LinkPurpose.invite, settings=settings, now=now)
        session.commit()
    held = ", ".join(sorted(roles)) or "no role: reports only"
    console.print(f"added {address} ({held})")
    if url is not None:
        from newsletter.web.staff import links

        if links.send(settings, to=address, purpose=LinkPurpose.invite, url=url):
            console.print(
                f"invitation emailed to {address} (valid {settings.staff_invite_days} days)"
            )
        else:
            fail(
                f"the invitation could not be emailed; send it from /admin/users or give them: {url}"
            )


@app.command("list")
def list_() -> None:
    """Everyone who can sign in: roles, status, second factor, last sign-in."""
    from rich.table import Table

    from newsletter import accounts
    from newsletter.clock import SystemClock

    settings = load_settings()
    now = SystemClock().now()
    with session_for(settings) as session:
        people = accounts.people(session)
    if not people:
        console.print("nobody yet: newsletter users add EMAIL --role admin")
        return
    table = Table("email", "roles", "status", "second factor", "last signed in (UTC)", box=None)
    for p in people:
        user = p.user
        if user.locked_until is not None and user.locked_until > now:
            status = f"locked until {user.locked_until:%Y-%m-%d %H:%M}"
        elif user.password_hash is None:
            status = "invited"
        else:
            status = "active"
        table.add_row(
            user.email,
            ", ".join(sorted(p.roles)) or "-",
            status,
            "on" if user.totp_confirmed_at else "off",
            f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "never",
        )
    console.print(table)


@app.command()
def remove(
    email: str = typer.Argument(..., help="Their email address."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a person: every session of theirs ends at once; the activity log keeps theirs."""
    from newsletter import accounts
    from newsletter.activity import cli_actor

    if not yes:
        if not sys.stdin.isatty():
            fail("refusing to remove without confirmation; pass --yes", code=2)
        typer.confirm(f"Remove {email}?", abort=True)
    settings = load_settings()
    with session_for(settings) as session:
        try:
            user = accounts.get_user(session, email)
            accounts.remove_user(session, user, actor=cli_actor())
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
    console.print(f"removed {email.strip().lower()}")


@app.command("set-password")
def set_password(
    email: str = typer.Argument(..., help="Their email address."),
    password: str | None = typer.Option(
        None, "--password", help="The new password; asked for (twice, hidden) when omitted."
    ),
) -> None:
    """Set a person's password; every session of theirs ends, and a lock-out is lifted."""
    from newsletter import accounts
    from newsletter.activity import cli_actor
    from newsletter.clock import SystemClock
    from newsletter.passwords import hash_password

    settings = load_settings()
    with session_for(settings) as session:
        try:
            user = accounts.get_user(session, email)
        except accounts.AccountError as exc:
            fail(str(exc))
        hashed = hash_password(_password(password))
        accounts.set_password(session, user, hashed, actor=cli_actor(), now=SystemClock().now())
        session.commit()
    console.print(f"password of {email.strip().lower()} set; their sessions have ended")


@app.command()
def roles(
    email: str = typer.Argument(..., help="Their email address."),
    role: list[str] = typer.Option([], "--role", "-r", help=ROLE_HELP + " None: reports only."),
) -> None:
    """Give a person exactly these roles."""
    from newsletter import accounts
    from newsletter.activity import cli_actor

    settings = load_settings()
    with session_for(settings) as session:
        try:
            wanted = accounts.parse_roles(role)
            user = accounts.get_user(session, email)
            accounts.set_roles(session, user, wanted, actor=cli_actor())
        except accounts.AccountError as exc:
            fail(str(exc))
        session.commit()
    console.print(
        f"{email.strip().lower()}: {', '.join(sorted(wanted)) or 'no role: reports only'}"
    )


@app.command()
def unlock(email: str = typer.Argument(..., help="Their email address.")) -> None:
    """Lift a lock-out (too many wrong passwords) before its delay has passed."""
    from newsletter import accounts, ratelimit
    from newsletter.activity import cli_actor, record

    settings = load_settings()
    with session_for(settings) as session:
        try:
            user = accounts.get_user(session, email)
        except accounts.AccountError as exc:
            fail(str(exc))
        user.locked_until = None
        session.add(user)
        ratelimit.clear(session, ratelimit.SIGN_IN_ACCOUNT, str(user.id))
        record(session, actor=cli_actor(), action="user.unlock", object=f"user:{user.email}")
        session.commit()
    console.print(f"{email.strip().lower()} can sign in again")


@app.command("reset-two-factor")
def reset_two_factor(email: str = typer.Argument(..., help="Their email address.")) -> None:
    """Forget a person's second factor (a lost phone): they set up a new one at next sign-in."""
    from newsletter import accounts
    from newsletter.activity import cli_actor, record

    settings = load_settings()
    with session_for(settings) as session:
        try:
            user = accounts.get_user(session, email)
        except accounts.AccountError as exc:
            fail(str(exc))
        user.totp_secret = None
        user.totp_confirmed_at = None
        user.totp_last_step = None
        session.add(user)
        accounts.end_sessions(session, user)
        record(
            session,
            actor=cli_actor(),
            action="user.second_factor_reset",
            object=f"user:{user.email}",
        )
        session.commit()
    console.print(f"second factor of {email.strip().lower()} removed; their sessions have ended")
