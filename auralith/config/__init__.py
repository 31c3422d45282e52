"""The job config: pydantic models, one module per section of docs/config.md, and the YAML loader.

Pure data: importing it loads pydantic and PyYAML, never Celery, SQLAlchemy or torch.
"""

from auralith.config.job import JobConfig, OutputConfig, SourceConfig
from auralith.config.load import format_validation_error, load_config, parse_config

__all__ = ["JobConfig", "OutputConfig", "SourceConfig", "format_validation_error", "load_config", "parse_config"]
