"""The typed config: one section per concern. To add a setting, add a field to its section here
(type, default, `description=` one line); it becomes a TOML key, an env var and a flag by itself:

    [axon] port = 8091   ==   OPENSUBNET_AXON__PORT=8091   ==   --axon.port 8091

`json_schema_extra={"flag": "--netuid"}` adds a short flag. Paths expand `~`. Values typed SecretStr
are masked wherever the config is printed.
"""
from __future__ import annotations

import os
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "OPENSUBNET_"
Path_ = Annotated[str, AfterValidator(os.path.expanduser)]


def short_flag(flag: str) -> dict:
    return {"flag": flag}


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class WalletSection(Section):
    name: str = Field("default", description="wallet name (a directory under path); //Alice etc. = dev-only keys",
                      json_schema_extra=short_flag("--wallet"))
    hotkey: str = Field("default", description="hotkey name inside the wallet", json_schema_extra=short_flag("--hotkey"))
    path: Path_ = Field("~/.opensubnet/wallets", description="directory holding the wallets")
    password_env: str = Field("OPENSUBNET_WALLET_PASSWORD", description="env var holding the coldkey password")
    password_file: Path_ | None = Field(None, description="file whose first line is the wallet password",
                                        json_schema_extra=short_flag("--password-file"))


class ChainSection(Section):
    url: str = Field("dev:~/.opensubnet/devchain.sqlite",
                     description="ws://HOST:PORT, wss://…, `local` (local runtime) or dev:PATH (dev ledger)",
                     json_schema_extra=short_flag("--chain"))
    netuid: int | None = Field(None, ge=0, le=65535, description="subnet id", json_schema_extra=short_flag("--netuid"))

    @field_validator("url")
    @classmethod
    def _expand_dev_path(cls, v: str) -> str:
        return "dev:" + os.path.expanduser(v[4:]) if v.startswith("dev:") and v[4:] else v


class AxonSection(Section):
    host: str = Field("0.0.0.0", description="address the miner's gRPC server binds")
    port: int = Field(8091, ge=1, le=65535, description="port the miner's gRPC server binds")
    external_ip: str | None = Field(None, description="IP announced on chain (default: detected)")
    max_request_bytes: int = Field(64 * 2**20, ge=1024, le=2**31 - 1, description="largest request accepted, in bytes")
    max_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1,
                                 description="requests handled at once (default: the CPU count; the model runs "
                                 "one torch thread per request, so more only adds latency); the rest wait in the "
                                 "stake-ordered queue")
    rate_limit_per_s: float = Field(50.0, gt=0, description="requests per second allowed per caller hotkey")
    min_stake: float = Field(0.0, ge=0, description="stake (TAO) a caller needs to be served")
    refusal_hold_s: float = Field(1.0, ge=0, description="refusals past a source address's small allowance are "
                                  "held this long (x U(0.5, 1)) before they go out, which slows flooders; 0 = off")
    tls_cert: Path_ | None = Field(None, description="PEM certificate; TLS is on when cert and key are set")
    tls_key: Path_ | None = Field(None, description="PEM private key for tls_cert")


class DendriteSection(Section):
    timeout_s: float = Field(12.0, gt=0, description="deadline of one request to a miner, seconds")
    max_concurrency: int = Field(256, ge=1, description="requests in flight at once over all miners")


class MinerSection(Section):
    model: str = Field("minilm", description="reference model of the subnet the miner serves (`neuron subnet show NAME`)")


class ValidatorSection(Section):
    batch_size: int = Field(8, ge=1, description="challenges per step")
    top_k: int = Field(4, ge=1, description="miners the gate picks per step")
    exploration: float = Field(0.1, ge=0, le=1, description="share of random miners queried besides the top-k")
    ema_alpha: float = Field(0.1, gt=0, le=1, description="weight of a new score in the moving average")
    weights_interval_blocks: int = Field(100, ge=1, description="blocks between weight submissions")
    state_dir: Path_ = Field("~/.opensubnet/validator", description="where scores and gate state are saved")
    api_port: int | None = Field(None, ge=0, le=65535,
                                 description="serve the mixture to applications on this port (0 = any free port; unset = off)")
    api_host: str = Field("0.0.0.0", description="address the validator's API server binds")
    api_external_ip: str | None = Field(None, description="IP announced on chain for the API (default 127.0.0.2)")
    api_min_stake: float = Field(1.0, ge=0, description="stake (TAO) an API caller needs; 0 also serves unstaked hotkeys")
    api_rate_per_s: float = Field(1.0, gt=0, description="API requests/s of a caller at zero stake")
    api_rate_per_tao: float = Field(0.1, ge=0, description="extra API requests/s per TAO of the caller's stake")
    api_rate_max: float = Field(100.0, gt=0, description="API requests/s of a caller however large its stake")
    api_burst_s: float = Field(2.0, gt=0, description="a caller may send this many seconds of its rate at once")


class SubnetSection(Section):
    name: str = Field("text-embedding", description="incentive spec: a registered subnet name (`neuron subnet list`) or module:Class")


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v):
        return v.upper() if isinstance(v, str) else v


class NeuronConfig(BaseSettings):
    """Effective configuration. Build it with `neurons.config.load_config` (flags > env > file > defaults);
    `NeuronConfig()` alone reads defaults and env vars."""
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid",
                                      case_sensitive=False)

    wallet: WalletSection = Field(default_factory=WalletSection)
    chain: ChainSection = Field(default_factory=ChainSection)
    axon: AxonSection = Field(default_factory=AxonSection)
    dendrite: DendriteSection = Field(default_factory=DendriteSection)
    miner: MinerSection = Field(default_factory=MinerSection)
    validator: ValidatorSection = Field(default_factory=ValidatorSection)
    subnet: SubnetSection = Field(default_factory=SubnetSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)

    _origins: dict[str, str] = PrivateAttr(default_factory=dict)
    _file: str | None = PrivateAttr(default=None)

    def origin(self, key: str) -> str:
        """Where the value of "section.key" came from: "default", "file PATH", "env NAME" or "flag --NAME"."""
        sec = key.split(".", 1)[0]
        return self._origins.get(key) or self._origins.get(sec) or "default"

    @property
    def source_file(self) -> str | None:
        return self._file

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        return (init_settings, env_settings)

    @classmethod
    def sections(cls) -> dict[str, type[Section]]:
        return {name: f.annotation for name, f in cls.model_fields.items()}


def is_secret(section: str, key: str, model: type[NeuronConfig] = NeuronConfig) -> bool:
    sec = model.sections().get(section)
    f = sec.model_fields.get(key) if sec else None
    return f is not None and (f.annotation is SecretStr or SecretStr in get_args(f.annotation))
