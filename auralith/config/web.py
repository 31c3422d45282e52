"""Config of the web steps: HTML main-text extraction (`preprocessing.html`) and the URL filter
(`preprocessing.url_filter`). Both act on documents from web sources (WARC); others pass through."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from auralith.config.base import StrictModel


class HtmlConfig(StrictModel):
    """How the main text of an HTML page is extracted (docs/sources.md#html)."""

    # resiliparse: 4-5x faster per core than trafilatura on the same pages (bench/extract.py), same chain after.
    extractor: Literal["resiliparse", "trafilatura"] = "resiliparse"
    # Drop navigation, headers, footers and sidebars; false keeps all visible text.
    main_content: bool = True
    # Image alt texts and form field values in the text.
    alt_texts: bool = False


class UrlFilterConfig(StrictModel):
    """Documents whose URL matches a rule are removed as `url_filter.domain` / `url_filter.substring`."""

    # A domain blocks itself and its subdomains: "example.com" blocks "www.example.com", not "myexample.com".
    block_domains: list[str] = Field(default_factory=list)
    # Files of domains, one a line; blank lines and lines starting with "#" are ignored (UT1 / Blocklist
    # Project "domains" lists work as they are).
    block_domain_files: list[str] = Field(default_factory=list)
    # A URL that contains one of these (case-insensitive) is removed.
    block_substrings: list[str] = Field(default_factory=list)
    block_substring_files: list[str] = Field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return bool(
            self.block_domains or self.block_domain_files or self.block_substrings or self.block_substring_files
        )
