"""What each Dramatiq worker process started by `coopclub worker` imports: logging set up
as every coopclub process does it (COOPCLUB_LOG_FORMAT, so JSON when asked), then the
actors. Dramatiq's own logging setup is skipped (`--skip-logging`) for this."""

from app.config import get_settings
from app.observability import configure_logging

configure_logging(get_settings())

import workers  # noqa: E402, F401  (declares the actors on the broker app.jobs configured)
