"""The machine-activity rules on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsletter.tracking.rules import RULES_VERSION, Hit, MachineRules, RuleSettings

NOW = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def hit(**overrides: object) -> Hit:
    values: dict[str, object] = {
        "kind": "click",
        "method": "GET",
        "user_agent": PHONE,
        "client_ip": "203.0.113.9",
        "now": NOW,
        "sent_at": NOW - timedelta(hours=2),
        "link_id": 1,
        "session": 42,
    }
    values.update(overrides)
    return Hit(**values)  # type: ignore[arg-type]


def test_a_person_reading_on_a_phone_is_human_and_the_judgement_names_the_rules_version() -> None:
    judgement = MachineRules().judge(hit())
    assert (judgement.machine, judgement.reason) == (False, None)
    assert judgement.rules_version == RULES_VERSION
    assert judgement.seconds_since_delivery == 7200.0


def test_opens_from_apples_network_are_privacy_proxy_opens_but_clicks_are_not() -> None:
    rules = MachineRules()
    assert rules.judge(hit(kind="open", client_ip="17.58.0.1", session=None)).reason == "apple-mpp"
    assert rules.judge(hit(kind="click", client_ip="17.58.0.1", session=None)).machine is False


def test_options_requests_are_machine_activity() -> None:
    assert MachineRules().judge(hit(method="OPTIONS")).reason == "method"


def test_the_early_click_threshold_is_a_setting() -> None:
    rules = MachineRules(RuleSettings(min_click_seconds=60))
    assert rules.judge(hit(sent_at=NOW - timedelta(seconds=30))).reason == "early-click"
    assert rules.judge(hit(sent_at=NOW - timedelta(seconds=90), session=7)).machine is False


def test_a_burst_names_when_it_started_so_earlier_clicks_can_be_flagged() -> None:
    rules = MachineRules()
    rules.judge(hit(link_id=1, now=NOW))
    judgement = rules.judge(hit(link_id=2, now=NOW + timedelta(seconds=1)))
    assert (judgement.reason, judgement.flag_since) == ("burst", NOW)


def test_session_memory_is_bounded_and_forgets_the_oldest_sessions_first() -> None:
    def second_click_of_session_0(memory: int) -> str | None:
        rules = MachineRules(memory=memory)
        rules.judge(hit(session=0, link_id=1))
        for session in range(1, 101):
            rules.judge(hit(session=session))
        return rules.judge(hit(session=0, link_id=2, now=NOW + timedelta(seconds=1))).reason

    assert second_click_of_session_0(memory=1000) == "burst"  # remembered: a burst
    assert second_click_of_session_0(memory=10) is None  # 100 sessions later: forgotten
