"""Private files for keys: directories 0700, files 0600, written atomically (temp file + fsync + rename)."""
from __future__ import annotations

import logging
import os
import stat
import tempfile
from pathlib import Path

from neurons.wallet.errors import KeyfileError, WalletExistsError

log = logging.getLogger("neurons.wallet")


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if missing; directories created here are 0700."""
    if path.is_dir():
        return
    private_dir(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    os.chmod(path, 0o700)


def write_private(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Atomically write `data` to `path` with mode 0600; refuse to replace an existing file unless `overwrite`."""
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic create-if-absent
            except FileExistsError:
                raise WalletExistsError(f"{path} already exists",
                                        hint="pass --overwrite to replace it (the old key is lost unless you have its mnemonic)") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_private(path: Path, max_bytes: int) -> bytes:
    """Read at most max_bytes + 1 bytes (the caller rejects oversize files); warn when others can read it.
    A missing file raises FileNotFoundError (the caller knows what was expected there)."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise
    except OSError as e:  # permissions, a directory in the way, I/O errors
        raise KeyfileError(f"cannot read {path}: {e.strerror}") from None
    if stat.S_IMODE(mode) & 0o077:
        log.warning("%s is accessible by other users (mode %o): run `chmod 600 %s`", path, stat.S_IMODE(mode), path)
    return data
