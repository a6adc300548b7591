"""`newsletter tokens ...`: API tokens for /api/v1/ (the shell is an admin's)."""

from __future__ import annotations

import typer
from rich.markup import escape

from newsletter.cli._common import console, fail, load_settings, session_for

app = typer.Typer(help="API tokens for /api/v1/: add, list, revoke.", no_args_is_help=True)


@app.command("add")
def add_command(
    name: str = typer.Argument(..., help="A name saying who uses it, e.g. 'HR feed'."),
    scope: list[str] = typer.Option(
        ...,
        "--scope",
        help="subscribers:read, subscribers:write, subscribers:skip-confirmation, reports:read "
        "(repeat, or separate with commas).",
    ),
) -> None:
    """Create a token; it is shown once, store it where its user keeps secrets."""
    from newsletter.activity import cli_actor, record
    from newsletter.apitokens import TokenError, create_token
    from newsletter.models import utcnow

    settings = load_settings()
    with session_for(settings) as session:
        who = cli_actor()
        try:
            new = create_token(session, name, scope, by=who, now=utcnow())
        except TokenError as exc:
            fail(escape(str(exc)))
        record(
            session,
            actor=who,
            action="token.create",
            object=f"token:{new.token.name}",
            detail=f"scopes {', '.join(new.token.scopes)}",
        )
        session.commit()
    console.print(
        f"token {new.token.name!r} created with {', '.join(new.token.scopes)}", markup=False
    )
    console.print("Copy it now; it is not shown again:", markup=False)
    console.print(new.secret, markup=False)


@app.command("list")
def list_command() -> None:
    """Every token: name, first characters, scopes, created, last used, revoked."""
    from newsletter.apitokens import list_tokens

    settings = load_settings()
    with session_for(settings) as session:
        tokens = list_tokens(session)
    # Plain lines, not a table: nothing is cut short in a narrow terminal, easy to grep.
    console.print(f"{len(tokens)} token(s)", markup=False)
    for t in tokens:
        state = (
            f"revoked {t.revoked_at:%Y-%m-%d %H:%M} UTC by {t.revoked_by}"
            if t.revoked_at
            else "live"
        )
        used = f"{t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "never"
        console.print(
            f"{t.name} ({t.prefix}…): {', '.join(t.scopes)}; created "
            f"{t.created_at:%Y-%m-%d %H:%M} UTC by {t.created_by}; last used {used}; {state}",
            markup=False,
        )


@app.command("revoke")
def revoke_command(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Revoke a token: it stops working at once."""
    from newsletter.activity import cli_actor, record
    from newsletter.apitokens import TokenError, revoke_token
    from newsletter.models import utcnow

    settings = load_settings()
    with session_for(settings) as session:
        who = cli_actor()
        try:
            token = revoke_token(session, name, by=who, now=utcnow())
        except TokenError as exc:
            fail(escape(str(exc)))
        record(session, actor=who, action="token.revoke", object=f"token:{token.name}")
        session.commit()
    console.print(f"token {token.name!r} revoked", markup=False)
