"""The typed config: one section per concern. To add a setting, add a field to its section here
(type, default, `description=` one line); it becomes a TOML key, an env var and a flag by itself:

    [axon] port = 8091   ==   OPENSUBNET_AXON__PORT=8091   ==   --axon.port 8091

`json_schema_extra={"flag": "--netuid"}` adds a short flag. Paths expand `~`. Values typed SecretStr
are masked wherever the config is printed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "OPENSUBNET_"
Path_ = Annotated[str, AfterValidator(os.path.expanduser)]
FilePath_ = Annotated[Path, AfterValidator(Path.expanduser)]


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
    call_timeout_s: float = Field(60.0, gt=0, description="longest a neuron waits for one chain call (they run on "
                                  "one worker thread, off the serving loop; neurons/chainio.py)")

    @field_validator("url")
    @classmethod
    def _expand_dev_path(cls, v: str) -> str:
        return "dev:" + os.path.expanduser(v[4:]) if v.startswith("dev:") and v[4:] else v


class AxonSection(Section):
    """The miner's gRPC server; `neurons.axon.Axon` takes this section as is."""
    host: str = Field("0.0.0.0", description="address the miner's gRPC server binds")
    port: int = Field(8091, ge=1, le=65535, description="port the miner's gRPC server binds")
    external_ip: str | None = Field(None, description="IP announced on chain (default: the address this machine "
                                    "routes to the internet from; on a non-local chain the miner refuses to guess a "
                                    "private or loopback one)")
    max_request_bytes: int = Field(64 << 20, ge=1024, le=2**31 - 1, description="largest request accepted "
                                   "(header + body), in bytes")
    max_response_bytes: int = Field(64 << 20, ge=1024, le=2**31 - 1, description="largest answer sent, in bytes")
    min_stake: float = Field(0.0, ge=0, description="stake (TAO) a caller needs to be served (less: BLACKLISTED)")
    require_validator_permit: bool = Field(True, description="serve only callers holding a validator permit "
                                           "(so relaying a validator's query to another miner needs a validator's stake)")
    rate_per_s: float = Field(50.0, gt=0, description="sustained requests per second allowed per caller hotkey")
    burst: float = Field(100.0, ge=1, description="requests one caller hotkey may send at once")
    max_inflight_per_caller: int = Field(64, ge=1, description="queued + running requests per caller hotkey")
    max_inflight_per_stream: int = Field(64, ge=1, description="requests of one gRPC stream served at once; "
                                         "further ones wait unread (HTTP/2 flow control slows their sender)")
    max_stream_pending_bytes: int = Field(64 << 20, ge=1024, description="answer bytes of one stream waiting to "
                                          "be sent; past it the stream is not read (docs/security.md)")
    stream_send_timeout_s: float = Field(15.0, gt=0, description="a stream whose waiting answers make no progress "
                                         "this long is ended (a client that never reads)")
    max_inflated_bytes_per_caller: int = Field(256 << 20, ge=1024, description="bytes the compressed request "
                                               "bodies of one caller hotkey may inflate to at once")
    max_inflated_bytes: int = Field(1 << 30, ge=1024, description="bytes all compressed request bodies may "
                                    "inflate to at once (bodies inflate only in a handler slot)")
    concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1,
                             description="requests handled at once, also the handler thread pool (default: the "
                             "CPU count; the model runs one torch thread per request, so more only adds latency); "
                             "the rest wait in the stake-ordered queue")
    max_queue: int = Field(256, ge=0, description="requests waiting for a handler; beyond, the lowest stake is shed")
    timeout_s: float = Field(12.0, gt=0, description="longest a request may take (the caller's deadline may be shorter)")
    quick_refusals_per_s: float = Field(5.0, gt=0, description="refusals a source address (IPv4, IPv6 /64) gets "
                                        "answered at once, per second; past this allowance they are held")
    quick_refusal_burst: float = Field(20.0, ge=1, description="refusals a source address may get at once before holding")
    refusal_hold_s: float = Field(1.0, ge=0, description="refusals past a source address's allowance are held this "
                                  "long (x U(0.5, 1), never past the caller's deadline), which slows flooders; 0 = off")
    max_held_refusals: int = Field(4096, ge=0, description="refusals held at once; beyond, they go out at once")
    max_held_refusal_bytes: int = Field(256 << 20, ge=0, description="request bytes held with them, at most")
    replay_window_s: float = Field(120.0, gt=0, description="how long a request nonce is remembered")
    max_nonces: int = Field(200_000, ge=1, description="bound on remembered nonces")
    clock_skew_s: float = Field(30.0, ge=0, description="accepted difference between caller and local clocks, seconds")
    tls_cert_file: FilePath_ | None = Field(None, description="PEM certificate; TLS is on when cert and key are set")
    tls_key_file: FilePath_ | None = Field(None, description="PEM private key for tls_cert_file")
    shutdown_grace_s: float = Field(5.0, ge=0, description="time in-flight requests get to finish on stop, seconds")

    @model_validator(mode="after")
    def _tls_pair(self):
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("set both tls_cert_file and tls_key_file, or neither")
        return self


class DendriteSection(Section):
    timeout_s: float | None = Field(None, gt=0, description="deadline of one request to a miner, seconds "
                                    "(default: the subnet's `timeout`)")
    max_concurrency: int = Field(256, ge=1, description="requests in flight at once over all miners")


class MinerSection(Section):
    model: str = Field("minilm", description="reference model of the subnet the miner serves (`neuron subnet show NAME`)")
    device: str = Field("auto", description="where the model runs: auto (cuda when present, else cpu), cpu, cuda, cuda:N")
    batching: Literal["auto", "on", "off"] = Field("auto", description="merge concurrent requests into one model "
                                                   "forward: auto = only on cuda (on a CPU merging was measured slower)")
    batch_max_rows: int = Field(128, ge=1, description="most rows (dim 0 of the request tensors) in one merged forward")
    batch_max_wait_ms: float = Field(5.0, ge=0, description="longest a request waits for others to merge with")


class ValidatorSection(Section):
    batch_size: int | None = Field(None, ge=1, description="challenges per step (default: the subnet's "
                                   "`default_batch_size`)")
    weights_interval_blocks: int = Field(100, ge=1, description="blocks between weight submissions")
    commit_reveal: Literal["auto", "hash", "timelock"] = Field(
        "auto", description="on commit-reveal subnets: drand-timelocked commits where the runtime has "
                            "commit_timelocked_weights (auto), always hash commit then reveal (hash), or timelocked")
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


class GateSection(Section):
    """The validator's router (neurons/validator/training.py reads this section as is)."""
    hidden: int = Field(64, ge=1, description="width of the gate's hidden layer")
    lr: float = Field(1e-2, gt=0, description="Adam learning rate of the online gate")
    top_k: int = Field(4, ge=1, description="miners the gate picks for each input")
    explore: int = Field(1, ge=0, description="extra serving miners, picked at random per step, sent every input")
    noise_std: float = Field(0.1, ge=0, description="std of the noise added to the gate's logits before top-k")
    balance_weight: float = Field(0.01, ge=0, description="weight of the load-balancing term (spreads inputs over equal miners)")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient-norm clip of one gate update")


class ScoringSection(Section):
    """How the validator credits miners (neurons/validator/scoring.py reads this section as is)."""
    method: Literal["loo", "shapley"] = Field("shapley", description="sampled Shapley (shapley: miners answering "
                                              "alike split the credit) or leave-one-out (loo: two identical "
                                              "answers both lose most of theirs)")
    permutations: int = Field(8, ge=1, description="sampled permutations per step, half of them reversed (shapley only)")
    confidence_z: float = Field(2.0, ge=0, description="weights use the moving average minus this many standard "
                                "errors, so miners whose answers carry no information earn 0")
    ema_alpha: float = Field(0.1, gt=0, le=1, description="weight of a new step's score in the per-uid moving average")


class SubnetSection(Section):
    name: str = Field("text-embedding", description="incentive spec: a registered subnet name (`neuron subnet list`), "
                      "module:Class, or a .py file", json_schema_extra=short_flag("--subnet"))


class MetricsSection(Section):
    """Prometheus /metrics of a miner or validator (neurons/axon/metrics.py, neurons/validator/metrics.py)."""
    port: int | None = Field(None, ge=0, le=65535, description="serve Prometheus metrics on this port "
                             "(0 = any free port, logged; unset = off)")
    host: str = Field("127.0.0.1", description="address the metrics server binds (0.0.0.0: every interface)")


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v):
        return v.upper() if isinstance(v, str) else v


class NeuronConfig(BaseSettings):
    """Effective configuration. Build it with `neurons.config.load_config` (flags > env > file > defaults);
    `NeuronConfig(section={...})` alone is the defaults plus what it is given (no env, no file)."""
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid",
                                      case_sensitive=False)

    wallet: WalletSection = Field(default_factory=WalletSection)
    chain: ChainSection = Field(default_factory=ChainSection)
    axon: AxonSection = Field(default_factory=AxonSection)
    dendrite: DendriteSection = Field(default_factory=DendriteSection)
    miner: MinerSection = Field(default_factory=MinerSection)
    validator: ValidatorSection = Field(default_factory=ValidatorSection)
    gate: GateSection = Field(default_factory=GateSection)
    scoring: ScoringSection = Field(default_factory=ScoringSection)
    subnet: SubnetSection = Field(default_factory=SubnetSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
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
        return (init_settings,)  # env vars are read by load_config, which knows each value's source

    @classmethod
    def sections(cls) -> dict[str, type[Section]]:
        return {name: f.annotation for name, f in cls.model_fields.items()}


def is_secret(section: str, key: str, model: type[NeuronConfig] = NeuronConfig) -> bool:
    sec = model.sections().get(section)
    f = sec.model_fields.get(key) if sec else None
    return f is not None and (f.annotation is SecretStr or SecretStr in get_args(f.annotation))
