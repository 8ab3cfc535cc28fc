"""One configuration file (TOML) for the operator; the embedded default needs none.

Every table is checked on reading, with pydantic: types, bounds, and unknown keys
refused (``sources.tax.timout: unknown key``). ``HEDUI_*`` variables override single keys
(``HEDUI_DATABASE__URL``, ``HEDUI_SOURCES__TAX__TIMEOUT``; see
:mod:`verifier.config.loading`); ``HEDUI_CONFIG`` names the file. Secrets are references,
never values: ``env:NAME`` or ``file:/run/secrets/name`` (``value:...`` for sandbox
tokens), for credentials, webhook secrets and the database URL.

Modules: :mod:`~verifier.config.model` (the frozen values the rest of hedui uses),
:mod:`~verifier.config.sections`, :mod:`~verifier.config.sources` and
:mod:`~verifier.config.webhook_section`, :mod:`~verifier.config.federation_section`
(the file's tables), :mod:`~verifier.domain.peers` (federation peers),
:mod:`~verifier.config.loading` (file and environment), :mod:`~verifier.config.secrets`,
:mod:`~verifier.config.errors`.
"""

from verifier.config.errors import ConfigError
from verifier.config.loading import load_config, parse_config
from verifier.config.model import (
    DEFAULT_LISTEN,
    DEFAULT_PKI_DIR,
    DEFAULT_SANDBOX_PORT,
    SEED_REGIONS,
    TLS_MODES,
    BatchesConfig,
    Config,
    MetricsConfig,
    Pkcs11Config,
    Principal,
    RosterConfig,
    SourceConfig,
    SubscriberConfig,
    TimeLimitsConfig,
    TlsConfig,
    TracingConfig,
    WebhooksConfig,
    default_config,
    sandbox_sources,
)
from verifier.config.secrets import resolve_secret
from verifier.domain.peers import FederationConfig, PeerConfig
from verifier.domain.source_policy import SourcePolicy

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_PKI_DIR",
    "DEFAULT_SANDBOX_PORT",
    "SEED_REGIONS",
    "TLS_MODES",
    "BatchesConfig",
    "Config",
    "ConfigError",
    "FederationConfig",
    "MetricsConfig",
    "PeerConfig",
    "Pkcs11Config",
    "Principal",
    "RosterConfig",
    "SourceConfig",
    "SourcePolicy",
    "SubscriberConfig",
    "TimeLimitsConfig",
    "TlsConfig",
    "TracingConfig",
    "WebhooksConfig",
    "default_config",
    "load_config",
    "parse_config",
    "resolve_secret",
    "sandbox_sources",
]
