"""How fast a county circular prints: 50, 500 and 2,000 listed findings.

Run from the repository root::

    .venv/bin/python bench/documents.py [--rows 50,500,2000] [--no-naive]

For each size, a criticism circular (通报, tests/documents/samples.py) whose
attachment lists that many findings in a 6-column table is printed twice with
``workers.documents.render.render_pdf`` (the first print warms fonts up; the
second is timed), each print in a fresh forked process so its peak memory can
be read alone: peak RSS of the printing process plus, separately, the largest
peak of the section processes it forks (``getrusage(RUSAGE_CHILDREN)``).
Then the same rows are printed naively: one WeasyPrint render of one HTML table,
automatic table layout, one process. Progress goes to stderr; the report to stdout.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from pypdf import PdfReader  # noqa: E402

from bench.common import log, machine_facts  # noqa: E402
from tests.documents import samples  # noqa: E402
from workers.documents import render  # noqa: E402


def naive_html(rows: tuple[tuple[str, ...], ...]) -> str:
    header = "".join(f"<th>{c.header}</th>" for c in samples.FINDINGS_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        '<html><head><meta charset="utf-8"><style>@page { size: A4; margin: 37mm 26mm 35mm 28mm }'
        'body { font-family: "Noto Serif CJK SC"; font-size: 12pt }'
        "table { width: 100%; border-collapse: collapse } th, td { border: 0.5pt solid #000; padding: 3pt 2pt }"
        "thead { display: table-header-group } tr { break-inside: avoid }</style></head>"
        f"<body><table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></body></html>"
    )


def _measure(kind: str, rows: int, pipe) -> None:  # type: ignore[no-untyped-def]
    document = samples.criticism(rows)
    if kind == "render":
        render.render_pdf(samples.criticism(20, document_id="warm-up"))
        started = time.perf_counter()
        pdf = render.render_pdf(document)
    else:
        html = naive_html(document.attachments[0].table.rows)  # type: ignore[union-attr]
        started = time.perf_counter()
        pdf = render.weasyprint.HTML(string=html).write_pdf(font_config=render.FONT_CONFIG)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    pipe.send((seconds, own, children, len(pdf), pages))


def measure(kind: str, rows: int) -> tuple[float, float, float, int, int]:
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_measure, args=(kind, rows, send))
    process.start()
    result = receive.recv()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="50,500,2000")
    parser.add_argument("--no-naive", action="store_true")
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    facts = machine_facts([], ("weasyprint", render.weasyprint.__version__), ("renderer", render.RENDERER),
                          ("parallel above", f"{render.PARALLEL_ROWS} rows"))  # fmt: skip
    lines = []
    for rows in sizes:
        log(f"{rows} rows: render_pdf …")
        seconds, own, children, size, pages = measure("render", rows)
        naive = None
        if not args.no_naive:
            log(f"{rows} rows: naive single-table render …")
            naive = measure("naive", rows)
        lines.append((rows, seconds, own, children, size, pages, naive))
    for key, value in facts:
        print(f"{key:16} {value}")
    print()
    print("rows   render s  peak MB (main / largest section)  pages  PDF KB   naive s  naive MB  naive/render")
    for rows, seconds, own, children, size, pages, naive in lines:
        naive_s = f"{naive[0]:8.2f}" if naive else "       -"
        naive_mb = f"{naive[1]:8.0f}" if naive else "       -"
        ratio = f"{naive[0] / seconds:8.2f}×" if naive else "        -"
        print(f"{rows:5}  {seconds:8.2f}  {own:7.0f} / {children:7.0f}{'':17}  {pages:5}  {size / 1024:6.0f}  {naive_s}  {naive_mb}  {ratio}")


if __name__ == "__main__":
    main()
