"""RQ worker settings module (``rq worker -c workers.preload``).

Importing the job code once in the worker's parent process lets every forked
job process inherit it, instead of spending ~150 ms importing it again for each
job (measured by bench/jobs.py). Connections are still opened inside the
forked process: open database pools must not cross a fork.
"""

import projections.runner  # noqa: F401
import workers.channels  # noqa: F401
import workers.clock  # noqa: F401
import workers.context  # noqa: F401
import workers.documents.render  # noqa: F401  (WeasyPrint, ~1 s to import, and its fonts)
import workers.jobs  # noqa: F401
