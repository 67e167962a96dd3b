"""Choosing the gateway for the next try."""

from __future__ import annotations

from app.domain.routing import MAX_TRIES_PER_GATEWAY, choose_gateway

PRIORITY = ["mercadopago", "efi"]
BOTH = {"mercadopago", "efi"}


def test_the_first_healthy_gateway_in_priority_order_is_chosen() -> None:
    decision = choose_gateway(PRIORITY, supports=BOTH, available=BOTH, tries={})
    assert decision.gateway == "mercadopago"
    assert decision.reason == "first in priority order"
    assert decision.skipped == {}


def test_a_gateway_with_its_tries_used_is_passed_over() -> None:
    tries = {"mercadopago": MAX_TRIES_PER_GATEWAY}
    decision = choose_gateway(PRIORITY, supports=BOTH, available=BOTH, tries=tries)
    assert decision.gateway == "efi"
    assert decision.reason == "fallback"
    assert decision.skipped == {"mercadopago": f"{MAX_TRIES_PER_GATEWAY} tries used"}


def test_a_gateway_that_does_not_take_the_method_is_passed_over() -> None:
    decision = choose_gateway(
        ["efi", "mercadopago"], supports={"mercadopago"}, available=BOTH, tries={}
    )
    assert decision.gateway == "mercadopago"
    assert decision.skipped == {"efi": "does not take this payment method"}


def test_open_circuits_mean_wait_not_fail() -> None:
    decision = choose_gateway(PRIORITY, supports={"mercadopago"}, available={"efi"}, tries={})
    assert decision.gateway is None
    assert not decision.exhausted


def test_nobody_left_is_exhausted() -> None:
    tries = {"mercadopago": MAX_TRIES_PER_GATEWAY}
    decision = choose_gateway(PRIORITY, supports={"mercadopago"}, available=BOTH, tries=tries)
    assert decision.gateway is None
    assert decision.exhausted
    assert decision.as_record()["skipped"] == {
        "mercadopago": f"{MAX_TRIES_PER_GATEWAY} tries used",
        "efi": "does not take this payment method",
    }


def test_the_record_says_what_the_choice_saw() -> None:
    decision = choose_gateway(
        ["efi", "mercadopago"],
        supports={"efi", "mercadopago"},
        available={"mercadopago"},
        tries={"efi": 2},
    )
    assert decision.as_record() == {
        "candidates": ["efi", "mercadopago"],
        "healthy": ["mercadopago"],
        "tries": {"efi": 2},
        "chosen": "mercadopago",
        "reason": "fallback",
        "skipped": {"efi": "circuit open"},
    }
