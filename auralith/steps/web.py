"""Web steps: the URL filter and HTML main-text extraction. Each returns the reason a document is removed.

Extraction uses a field library: resiliparse (default: its DOM parser and main-content heuristics are in
C++) or trafilatura (datatrove's choice; pure Python over lxml, 4-5x slower per core on the same pages,
bench/extract.py). Either is imported on first use, so jobs without HTML never load them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

from auralith.config.web import HtmlConfig, UrlFilterConfig
from auralith.errors import ConfigError


class HtmlExtractor:
    """HTML -> main text. Returns ("", reason) when a page has no text to keep, else (text, None)."""

    def __init__(self, cfg: HtmlConfig):
        self.cfg = cfg
        self._extract = _resiliparse(cfg) if cfg.extractor == "resiliparse" else _trafilatura(cfg)

    def __call__(self, html: str) -> tuple[str, str | None]:
        try:
            text = self._extract(html)
        except Exception:  # noqa: BLE001 - a page a parser chokes on is one removed document, not a failed job
            return "", "html.parse_error"
        text = text.strip()
        return (text, None) if text else ("", "html.no_text")


def _resiliparse(cfg: HtmlConfig) -> Callable[[str], str]:
    from resiliparse.extract.html2text import extract_plain_text

    def extract(html: str) -> str:
        return extract_plain_text(
            html, main_content=cfg.main_content, alt_texts=cfg.alt_texts, links=False, form_fields=cfg.alt_texts
        )

    return extract


def _trafilatura(cfg: HtmlConfig) -> Callable[[str], str]:
    try:
        import trafilatura
    except ImportError:
        raise ConfigError(
            ["preprocessing.html.extractor: trafilatura is not installed (pip install 'auralith[trafilatura]')"]
        ) from None

    def extract(html: str) -> str:
        if not cfg.main_content:
            return trafilatura.html2txt(html) or ""
        # deduplicate off: the job's dedup stages do that, across documents, counted by reason.
        return trafilatura.extract(html, include_comments=False, include_images=cfg.alt_texts, deduplicate=False) or ""

    return extract


class UrlFilter:
    """Removes documents whose URL is on a block list: `url_filter.domain` or `url_filter.substring`."""

    def __init__(self, cfg: UrlFilterConfig):
        self.domains = frozenset(_domain(d) for d in cfg.block_domains) | _union(cfg.block_domain_files, _domain)
        self.substrings = tuple(
            sorted({s.lower() for s in cfg.block_substrings} | _union(cfg.block_substring_files, str.lower))
        )

    def __call__(self, url: str) -> str | None:
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:  # an unbalanced [ in the host part
            host = ""
        if host and self.domains:
            labels = host.split(".")
            if any(".".join(labels[i:]) in self.domains for i in range(len(labels))):
                return "url_filter.domain"
        lowered = url.lower()
        if any(s in lowered for s in self.substrings):
            return "url_filter.substring"
        return None


def _domain(entry: str) -> str:
    entry = entry.strip().lower()
    if "://" in entry:
        entry = urlsplit(entry).hostname or ""
    return entry.lstrip("*.").rstrip(".")


def _union(paths: list[str], clean: Callable[[str], str]) -> frozenset[str]:
    return frozenset(entry for path in paths for entry in (clean(e) for e in _block_list(path)) if entry)


@functools.lru_cache(maxsize=16)
def _block_list(path: str) -> tuple[str, ...]:
    """The entries of a block-list file, read once per worker process (lists can hold millions of lines)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return tuple(s for line in fh if (s := line.strip()) and not s.startswith("#"))
    except OSError as exc:
        raise ConfigError([f"preprocessing.url_filter: {path}: cannot be read: {exc.strerror}"]) from None


class WebSteps:
    """URL filter, then HTML -> main text, on a document whose `meta` has a URL / says it is HTML (WARC).

    Returns (text, removal reason or None): the page's main text for HTML, the text unchanged otherwise.
    """

    def __init__(self, url_cfg: UrlFilterConfig, html_cfg: HtmlConfig):
        self.url_filter = UrlFilter(url_cfg) if url_cfg.enabled else None
        self.html_cfg = html_cfg
        self._html: HtmlExtractor | None = None  # the extractor library loads on the first HTML document

    def __call__(self, text: str, meta: dict) -> tuple[str, str | None]:
        url = meta.get("url")
        if self.url_filter is not None and url and (reason := self.url_filter(url)):
            return text, reason
        if meta.get("html"):
            if self._html is None:
                self._html = HtmlExtractor(self.html_cfg)
            return self._html(text)
        return text, None
