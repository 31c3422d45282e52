"""Where webhooks may POST: only hosts named in AURALITH_WEBHOOK_HOSTS, loopback/link-local/metadata only by name."""

import pytest

from auralith.errors import ConfigError
from auralith.observe.webhook_hosts import check_webhook, webhook_problem


def env(hosts: str) -> dict[str, str]:
    return {"AURALITH_WEBHOOK_HOSTS": hosts}


def public(_host: str) -> list[str]:
    return ["93.184.215.14"]


def test_unset_sends_no_webhook():
    assert "webhooks are off" in (webhook_problem("https://hooks.example.com/x", {}, public) or "")


def test_only_listed_hosts_and_ports():
    e = env("hooks.example.com, *.corp.example:8443")
    assert webhook_problem("https://hooks.example.com/x", e, public) is None
    assert webhook_problem("https://a.corp.example:8443/x", e, public) is None
    assert "not in AURALITH_WEBHOOK_HOSTS" in (webhook_problem("https://a.corp.example/x", e, public) or "")
    assert "not in AURALITH_WEBHOOK_HOSTS" in (webhook_problem("https://evil.example.org/", e, public) or "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.100.100.200/",
        "http://metadata.google.internal/",
    ],
)
def test_loopback_link_local_and_metadata_are_refused_under_a_wildcard(url):
    assert "list it by name" in (webhook_problem(url, env("*"), public) or "")


def test_a_name_that_resolves_to_loopback_is_refused():
    problem = webhook_problem("https://sneaky.example.com/", env("*.example.com"), lambda h: ["127.0.0.1"])
    assert problem and "127.0.0.1" in problem


def test_a_listed_private_host_is_allowed():
    assert webhook_problem("http://127.0.0.1:9000/hook", env("127.0.0.1"), public) is None
    assert webhook_problem("http://localhost:9000/hook", env("localhost:9000"), lambda h: ["127.0.0.1"]) is None


def test_check_at_submit_names_the_key_and_leaves_references_to_the_worker():
    with pytest.raises(ConfigError, match=r"events.webhook.url: host 169.254.169.254"):
        check_webhook("http://169.254.169.254/", env("*"))
    check_webhook("${HOOK_URL}", env(""))  # expanded and checked by the worker
