"""The audit bundle (审计材料包): a history as an A4 PDF the discipline office
can attach to a case file.

It says what history it is (subject, filters), who exported it and when; lists
every event (position, time, actor, role, event, change, digest) with the
check that the event as stored now still hashes to the digest the audit chain
recorded ("一致"/"不一致"); and gives the chain head at export and the latest
full verification run, so a reader can tie the paper to the whole history.

Printed by WeasyPrint from ``templates/audit/bundle.html`` with the Chinese
fonts named explicitly, and a URL fetcher that refuses everything but inline
``data:`` URLs: no file of the machine and nothing from the network can end up
in a bundle.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import weasyprint
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from app.labels import local_time
from domain.verification import OUTCOMES

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

SERIF = '"Noto Serif CJK SC", serif'
SANS = '"Noto Sans CJK SC", sans-serif'

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


class RefusingFetcher(URLFetcher):
    """Fetches inline ``data:`` URLs only; ``file://``, ``http(s)://`` and the rest stop the render."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.startswith("data:"):
            raise FatalURLFetchingError(f"audit bundles fetch nothing: {url[:60]}")
        return super().fetch(url, headers)


def html_of(**context: Any) -> str:
    return _env.get_template("audit/bundle.html").render(serif=SERIF, sans=SANS, **context)


def render_bundle(
    *,
    subject: Any,
    filters: str,
    entries: list[dict[str, Any]],
    exported_by: str,
    exported_at: datetime,
    head: Any,
    verification: dict[str, Any] | None,
) -> bytes:
    changed = sum(1 for e in entries if e["check"] == "不一致")
    unchained = sum(1 for e in entries if e["check"] == "未入链")
    html = html_of(
        subject=subject,
        filters=filters,
        entries=entries,
        exported_by=exported_by,
        exported_at=local_time(exported_at),
        head=head,
        verification=verification,
        verified_at=local_time(verification.get("recorded_at")) if verification else "",
        verified_outcome=OUTCOMES.get(verification.get("outcome", ""), "") if verification else "",
        changed=changed,
        unchained=unchained,
    )
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES / "audit"), url_fetcher=RefusingFetcher())
    return document.write_pdf()
