"""Where the local stack lives and which ports it binds (all on 127.0.0.1).

Every port can be moved with an environment variable, e.g. SENTINEL_S3_PORT=9000.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"


def _port(name: str, default: int) -> int:
    return int(os.environ.get(f"SENTINEL_{name}_PORT", default))


@dataclass(frozen=True)
class StackConfig:
    repo_root: Path = REPO_ROOT
    state_dir: Path = field(default_factory=lambda: Path(os.environ.get("SENTINEL_STATE_DIR", REPO_ROOT / ".local")))
    s3_port: int = field(default_factory=lambda: _port("S3", 8333))
    seaweed_master_port: int = field(default_factory=lambda: _port("SEAWEED_MASTER", 9333))
    seaweed_volume_port: int = field(default_factory=lambda: _port("SEAWEED_VOLUME", 8380))
    seaweed_filer_port: int = field(default_factory=lambda: _port("SEAWEED_FILER", 8888))
    prefect_port: int = field(default_factory=lambda: _port("PREFECT", 4200))
    triton_http_port: int = field(default_factory=lambda: _port("TRITON_HTTP", 8000))
    triton_grpc_port: int = field(default_factory=lambda: _port("TRITON_GRPC", 8001))
    triton_metrics_port: int = field(default_factory=lambda: _port("TRITON_METRICS", 8002))

    @property
    def s3_endpoint(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    @property
    def prefect_api_url(self) -> str:
        return f"http://{HOST}:{self.prefect_port}/api"

    @property
    def triton_grpc_url(self) -> str:
        return f"{HOST}:{self.triton_grpc_port}"

    @property
    def model_store(self) -> Path:
        return self.state_dir / "model-store"

    @property
    def triton_models_dir(self) -> Path:
        return self.state_dir / "triton" / "models"

    @property
    def model_repository(self) -> Path:
        return self.repo_root / "triton" / "model_repository"


@dataclass(frozen=True)
class S3Identity:
    access_key: str
    secret_key: str


def local_s3_identity(cfg: StackConfig) -> S3Identity:
    """The local store's one identity; the secret is generated once and kept under .local/."""
    path = cfg.state_dir / "s3" / "identity.json"
    if path.exists():
        return S3Identity(**json.loads(path.read_text()))
    path.parent.mkdir(parents=True, exist_ok=True)
    identity = S3Identity(access_key="sentinel-local", secret_key=secrets.token_urlsafe(24))
    path.write_text(json.dumps(identity.__dict__))
    path.chmod(0o600)
    return identity


def client_env(cfg: StackConfig) -> dict[str, str]:
    """Environment a client process needs to use the running local stack."""
    identity = local_s3_identity(cfg)
    return {
        "AWS_ACCESS_KEY_ID": identity.access_key,
        "AWS_SECRET_ACCESS_KEY": identity.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": cfg.s3_endpoint,
        "PREFECT_API_URL": cfg.prefect_api_url,
        "SENTINEL_TRITON_URL": cfg.triton_grpc_url,
    }


def use_local_stack_env() -> None:
    """Point this process at the local stack unless the environment already points elsewhere."""
    for key, value in client_env(StackConfig()).items():
        os.environ.setdefault(key, value)
