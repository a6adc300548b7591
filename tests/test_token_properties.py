"""Property-based: token parsing answers every string with a reference or None, never more."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from newsletter.tokens import (
    AgencyRef,
    DeliveryRef,
    ProofRef,
    agency_token,
    delivery_token,
    delivery_token_signer,
    parse_token,
    proof_token,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
AGENCY = st.from_regex(r"\A[a-z0-9-]{1,40}\Z")
ID = st.integers(min_value=0, max_value=10**18 - 1)


@given(st.text(max_size=300))
def test_any_text_is_none_or_a_reference_and_never_raises(token: str) -> None:
    parsed = parse_token(KEY, token)
    assert parsed is None or isinstance(parsed, DeliveryRef | AgencyRef | ProofRef)


@given(ID)
def test_a_signed_delivery_token_parses_back_and_both_signers_agree(delivery_id: int) -> None:
    token = delivery_token(KEY, delivery_id)
    assert delivery_token_signer(KEY)(delivery_id) == token
    assert parse_token(KEY, token) == DeliveryRef(delivery_id)
    assert parse_token(OTHER_KEY, token) is None


@given(ID, AGENCY)
def test_agency_and_proof_tokens_parse_back_to_what_they_stand_for(
    bulletin_id: int, agency: str
) -> None:
    assert parse_token(KEY, agency_token(KEY, bulletin_id, agency)) == AgencyRef(
        bulletin_id, agency
    )
    assert parse_token(KEY, proof_token(KEY, bulletin_id, agency)) == ProofRef(bulletin_id, agency)


@given(ID, st.integers(min_value=0), st.text(min_size=1, max_size=3))
def test_any_change_to_a_token_makes_it_unknown(delivery_id: int, where: int, new: str) -> None:
    token = delivery_token(KEY, delivery_id)
    at = where % len(token)
    altered = token[:at] + new + token[at + 1 :]
    if altered != token:
        assert parse_token(KEY, altered) is None
