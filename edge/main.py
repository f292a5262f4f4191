"""The edge process: `python -m edge`.

The only place that reads the environment, configures logging and opens the
broker connection; everything else gets what it needs from here.
"""

from __future__ import annotations

import logging
import sys

import uvicorn

from common.logs import configure_logging
from edge.app import RpcCaller, create_app
from edge.settings import EdgeSettings

logger = logging.getLogger(__name__)

#: Exit status when the configuration is unusable (sysexits.h EX_CONFIG).
EXIT_CONFIG = 78


def main() -> None:
    """Runs the edge until it is told to stop."""
    configure_logging("edge")
    try:
        settings = EdgeSettings.from_env()
    except ValueError as error:
        logger.critical("The edge cannot start: %s", error)
        sys.exit(EXIT_CONFIG)
    from common.bus import RpcClient

    rpc = RpcClient(settings.amqp_url, name="edge-rpc")
    rpc.start()
    try:
        _serve(settings, rpc)
    finally:
        rpc.stop()


def _serve(settings: EdgeSettings, rpc: RpcCaller) -> None:
    logger.info("Edge listening.", extra={"host": settings.host, "port": settings.port})
    uvicorn.run(
        create_app(settings, rpc),
        host=settings.host,
        port=settings.port,
        # Logging is already configured; the middleware writes the access log.
        log_config=None,
        access_log=False,
        server_header=False,
    )
