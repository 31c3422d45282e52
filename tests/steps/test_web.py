import gzip
import zlib
from pathlib import Path

import pytest

from auralith.config.web import HtmlConfig, UrlFilterConfig
from auralith.errors import ConfigError
from auralith.steps.web import HtmlExtractor, UrlFilter

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def page() -> str:
    """The tutorial's "Errors and Exceptions" page as the fixture WARC holds it (HTTP headers and all)."""
    data = DATA / "python-docs-1.warc.gz"
    raw = data.read_bytes()
    while raw:
        d = zlib.decompressobj(31)
        member = d.decompress(raw)
        raw = d.unused_data
        if b"WARC-Type: response" in member and b"tutorial/errors.html" in member:
            return member.split(b"\r\n\r\n", 2)[2].decode("utf-8")
    raise AssertionError("page not in the fixture")


@pytest.mark.parametrize("extractor", ["resiliparse", "trafilatura"])
def test_main_text_keeps_the_prose_and_drops_the_navigation(page, extractor):
    text, reason = HtmlExtractor(HtmlConfig(extractor=extractor))(page)
    assert reason is None
    assert "Until now error messages haven’t been more than mentioned" in text
    assert "ZeroDivisionError" in text
    for boilerplate in ("Previous topic", "Table of Contents", "Quick search", "Theme", "Copyright"):
        assert boilerplate not in text, boilerplate
    assert "<div" not in text


def test_everything_visible_with_main_content_off(page):
    text, _ = HtmlExtractor(HtmlConfig(main_content=False))(page)
    assert "Previous topic" in text and "Until now error messages" in text


def test_a_page_with_no_text_is_removed_with_its_reason():
    extract = HtmlExtractor(HtmlConfig())
    assert extract("<html><head><script>var x = 1;</script></head><body></body></html>") == ("", "html.no_text")
    assert extract(gzip.compress(b"binary").decode("latin-1"))[1] in ("html.no_text", None)


def test_url_filter_domains_subdomains_files_and_substrings(tmp_path):
    blocked = tmp_path / "domains.txt"
    blocked.write_text("# adult\nbad.example\n\n*.tracker.test\n")
    words = tmp_path / "words.txt"
    words.write_text("casino\n")
    f = UrlFilter(
        UrlFilterConfig(
            block_domains=["Spam.ORG", "https://evil.net/"],
            block_domain_files=[str(blocked)],
            block_substrings=["/ads/"],
            block_substring_files=[str(words)],
        )
    )
    assert f("https://spam.org/page") == "url_filter.domain"
    assert f("https://www.spam.org./page") == "url_filter.domain"
    assert f("https://notspam.org/page") is None  # a suffix of the name is not a subdomain
    assert f("http://evil.net:8080/x") == "url_filter.domain"
    assert f("https://a.b.bad.example/") == "url_filter.domain"
    assert f("https://x.tracker.test/") == "url_filter.domain"
    assert f("https://ok.example/ADS/banner") == "url_filter.substring"
    assert f("https://ok.example/Online-Casino") == "url_filter.substring"
    assert f("https://ok.example/docs") is None
    assert f("http://[broken/") is None
    assert not UrlFilterConfig().enabled


def test_a_missing_block_list_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="gone.txt: cannot be read"):
        UrlFilter(UrlFilterConfig(block_domain_files=[str(tmp_path / "gone.txt")]))
