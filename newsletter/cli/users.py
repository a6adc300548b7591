"""`newsletter users ...` commands."""

from __future__ import annotations

import typer

from newsletter.cli._common import console, fail, load_settings, session_for

app = typer.Typer(help="Administrators of the web app.", no_args_is_help=True)


@app.command()
def add(
    email: str = typer.Argument(..., help="The administrator's email address (their login)."),
    password: str | None = typer.Option(
        None, "--password", help="The password; asked for (twice, hidden) when omitted."
    ),
) -> None:
    """Add an administrator who can sign in at /admin/."""
    from email_validator import EmailNotValidError, validate_email
    from sqlmodel import col, select

    from newsletter.models import AdminUser
    from newsletter.passwords import hash_password, password_problem

    try:
        address = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        fail(f"{email!r} is not an email address: {exc}")
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem:
        fail(problem)
    settings = load_settings()
    with session_for(settings) as session:
        existing = session.exec(
            select(AdminUser).where(col(AdminUser.email) == address.lower())
        ).first()
        if existing is not None:
            fail(f"{address} is already an administrator")
        session.add(AdminUser(email=address.lower(), password_hash=hash_password(password)))
        session.commit()
    console.print(f"added administrator {address.lower()}")
