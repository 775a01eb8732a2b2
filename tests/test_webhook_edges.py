"""Webhook edges an integrator meets: URLs the dispatcher could never send, receivers
that answer something other than HTTP or redirect, feed cursors no page gave.

On SQLite and PostgreSQL, against real local receivers (tests/test_webhooks.py)."""

from __future__ import annotations

import pytest

from buyerguard.bootstrap import Runtime
from tests.conftest import Api
from tests.test_api import assert_refused, row_counts

UNSENDABLE_URLS = [
    "http://[::1",  # an IPv6 host that does not close (it was a 500)
    "http://[not-an-ip]/hooks",
    "http://example.com:99999/hooks",  # no such port
    "http://example.com:abc/hooks",
    "http://exa mple.com/hooks",  # a space, a control character: no request line holds them
    "http://example.com/a b",
    "http://example.com/a\tb",
    "http://user:password@example.com/hooks",  # credentials: urllib reads them as a port
    "https://例子.测试/钩子",  # not ASCII: the host in its xn-- form, the path %-encoded
    "https://example.com/caf\u00e9",
]


@pytest.mark.parametrize("url", UNSENDABLE_URLS)
def test_a_url_the_dispatcher_cannot_send_is_refused_and_writes_nothing(
    api: Api, rt: Runtime, url: str
) -> None:
    counts = row_counts(rt)
    answer = api.post("operator", "/v1/webhook-endpoints", {"url": url}, key="hook-bad")
    assert_refused(answer, 422, "url_invalid", "url")
    assert row_counts(rt) == counts


def test_sendable_urls_are_still_registered(api: Api) -> None:
    for number, url in enumerate(
        [
            "https://xn--fsqu00a.xn--0zwm56d/%E9%92%A9%E5%AD%90",
            "http://[::1]:8080/hooks?token=a%20b",
            "https://marketplace.example:443/hooks#frag",
        ]
    ):
        answer = api.post("operator", "/v1/webhook-endpoints", {"url": url}, key=f"ok-{number}")
        assert answer.status_code == 201, answer.text
        assert answer.json()["url"] == url
