"""Reading the logging section: the format and level of the node's own handler, or the
operator's dictConfig file instead (gateway/ops/logs.py).

The file is read here, at load time, so that `gateway config check` finds a missing or
malformed file rather than the node at its next start. Whether its handlers and formatters can
be built is only known when logging.config builds them; `gateway run` reports that as a
failure of this key.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from gateway.config.converters import choice
from gateway.config.listen import existing_file
from gateway.config.schema import DEFAULT_LOGGING, LoggingConfig
from gateway.config.walker import Value
from gateway.ops.logs import LogFormat, LogLevel, read_dict_config

LOG_FORMATS: tuple[LogFormat, ...] = get_args(LogFormat)
LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)


def _dict_config_file(value: Value) -> Path:
    file = existing_file(value)
    try:
        read_dict_config(file)
    except ValueError as error:
        value.fail(str(error))
    return file


def read_logging(value: Value) -> LoggingConfig:
    r = value.mapping()
    logging = LoggingConfig(
        format=r.optional("format", choice(LOG_FORMATS), DEFAULT_LOGGING.format),
        level=r.optional("level", choice(LOG_LEVELS), DEFAULT_LOGGING.level),
        config_file=r.optional("config_file", _dict_config_file, None),
    )
    if r.has("config_file"):
        # Two places deciding the same thing: the operator would not know which one wins.
        for key in ("format", "level"):
            if r.has(key):
                r.report(key, "expected no format or level beside config_file: the file sets both")
    r.finish()
    return logging
