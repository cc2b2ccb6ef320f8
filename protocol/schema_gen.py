"""Regenerate protocol/schema_pb2.py from schema.proto (needs grpcio-tools).

Run `python -m protocol.schema_gen` after editing schema.proto; the staleness test in
tests/protocol/test_schema.py fails until the committed module matches.
"""
from __future__ import annotations

import sys
from pathlib import Path

PROTO = Path(__file__).with_name("schema.proto")
GENERATED = PROTO.with_name("schema_pb2.py")


def generate(out_dir: Path) -> Path:
    """Compile schema.proto into out_dir/protocol/schema_pb2.py and return that path."""
    from grpc_tools import protoc  # dev/test dependency only

    root = PROTO.parent.parent
    out_dir = Path(out_dir)
    (out_dir / "protocol").mkdir(parents=True, exist_ok=True)
    rc = protoc.main(["protoc", f"-I{root}", f"--python_out={out_dir}", str(PROTO.relative_to(root))])
    if rc != 0:
        raise RuntimeError(f"protoc failed with exit code {rc} on {PROTO}")
    return out_dir / "protocol" / "schema_pb2.py"


def main() -> int:
    out = generate(PROTO.parent.parent)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
