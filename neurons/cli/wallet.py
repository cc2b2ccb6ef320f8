"""`neuron wallet create|new-hotkey|list|show|regen|import`: keys on disk. Prints ss58 addresses only; a mnemonic
is shown only with --show-mnemonic or written to the --mnemonic-file the user names."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurons.config import add_config_flags, load_config

HELP = "create, list, show and restore wallets (an encrypted coldkey + hotkeys); fund one on a dev chain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="wallet_action", metavar="ACTION", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        add_config_flags(p, ["wallet"])
        return p

    def backup_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--show-mnemonic", action="store_true", help="print the new mnemonics (anyone who sees them owns the keys)")
        p.add_argument("--mnemonic-file", metavar="PATH", help="write the new mnemonics to this new file (mode 0600)")
        p.add_argument("--overwrite", action="store_true", help="replace existing keys (they are lost without their mnemonics)")

    p = action("create", "new coldkey (encrypted with a password) and hotkeys")
    p.add_argument("--hotkeys", nargs="+", metavar="NAME", help="hotkey names to create (default: the --hotkey name)")
    p.add_argument("--n-hotkeys", type=int, metavar="N", help="create N hotkeys: default, hotkey1, …")
    p.add_argument("--encrypt-hotkeys", action="store_true", help="encrypt the hotkeys too (a miner then needs the password)")
    backup_flags(p)
    p = action("new-hotkey", "add a hotkey (named by --hotkey) to an existing wallet")
    p.add_argument("--encrypt", action="store_true", help="encrypt it with the wallet password")
    backup_flags(p)
    action("list", "every wallet under the wallet path, with its addresses")
    action("show", "one wallet: its coldkey and hotkey addresses")
    p = action("regen", "restore a key from its mnemonic (or a watch-only coldkey from its address)")
    p.add_argument("key", choices=["coldkey", "hotkey", "coldkeypub"], help="which key to restore (hotkey: the --hotkey name)")
    p.add_argument("--mnemonic-file", metavar="PATH", help="file holding the mnemonic ('-': stdin; default: prompt)")
    p.add_argument("--ss58", help="the coldkey address, for `regen coldkeypub`")
    p.add_argument("--encrypt", action="store_true", help="encrypt a restored hotkey with the wallet password")
    p.add_argument("--overwrite", action="store_true", help="replace the existing key")
    p = action("import", "store a Bittensor SDK (btcli) wallet as the --wallet wallet, hotkey names kept; the new "
                         "files are encrypted with the usual wallet password (--password-file / "
                         "$OPENSUBNET_WALLET_PASSWORD, else a prompt)")
    p.add_argument("--bittensor-path", metavar="DIR", required=True,
                   help="the SDK wallet's own directory (holding coldkey, coldkeypub.txt, hotkeys/), "
                        "e.g. ~/.bittensor/wallets/NAME")
    p.add_argument("--bittensor-password-file", metavar="PATH",
                   help="file whose first line is the SDK wallet's password (default: $BT_WALLET_PASSWORD, else a "
                        "prompt); asked only when its keys are encrypted")
    p.add_argument("--overwrite", action="store_true", help="replace existing keys of --wallet")
    text = "send TAO to the wallet's coldkey from the chain's dev account (dev ledger and local runtime only)"
    p = sub.add_parser("fund", help=text, description=text)
    add_config_flags(p, ["wallet", "chain"])
    p.add_argument("--amount", required=True, metavar="TAO", help="TAO to receive, e.g. 100")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args)
    from neurons.wallet import Wallet, wallet_from_config
    if args.wallet_action == "list":
        return _list(Path(cfg.wallet.path))
    wallet = wallet_from_config(cfg.wallet)
    if args.wallet_action == "fund":
        return _fund(wallet, cfg, args)
    if not isinstance(wallet, Wallet) and args.wallet_action != "show":
        from neurons.cli.errors import CLIError
        raise CLIError(f"{cfg.wallet.name} is a dev-only wallet (derived from a public uri); it has no files to change",
                       hint="use a wallet name such as `--wallet mywallet`")
    return {"create": _create, "new-hotkey": _new_hotkey, "show": _show, "regen": _regen,
            "import": _import}[args.wallet_action](wallet, cfg, args)


def _password(cfg, what: str, confirm: bool = False) -> str:
    from neurons.wallet import password_or_prompt
    return password_or_prompt(password_file=cfg.wallet.password_file, password_env=cfg.wallet.password_env,
                              what=what, confirm=confirm)


def _create(wallet, cfg, args) -> int:
    hotkeys = args.hotkeys or ([cfg.wallet.hotkey] if args.n_hotkeys is None else args.n_hotkeys)
    new = wallet.create(_password(cfg, f"the new wallet {wallet.name!r}", confirm=True), hotkeys,
                        overwrite=args.overwrite, encrypt_hotkeys=args.encrypt_hotkeys)
    print(f"created wallet {wallet.name!r} in {wallet.dir}")
    _print_keys(new.coldkey, new.hotkeys, encrypted_hotkeys=args.encrypt_hotkeys)
    _backup(args, {"coldkey": new.coldkey_mnemonic, **{f"hotkey {n}": m for n, m in new.hotkey_mnemonics.items()}})
    return 0


def _new_hotkey(wallet, cfg, args) -> int:
    name = cfg.wallet.hotkey
    password = _password(cfg, f"hotkey {name!r}", confirm=True) if args.encrypt else None
    new = wallet.create_hotkey(name, password=password, overwrite=args.overwrite)
    print(f"created hotkey {name!r} in wallet {wallet.name!r}")
    _print_keys(None, new.hotkeys, encrypted_hotkeys=args.encrypt)
    _backup(args, {f"hotkey {name}": new.hotkey_mnemonics[name]})
    return 0


def _print_keys(coldkey: str | None, hotkeys: dict[str, str], encrypted_hotkeys: bool = False) -> None:
    rows = ([("coldkey", coldkey, "encrypted")] if coldkey else []) + \
           [(f"hotkey {n}", ss58, "encrypted" if encrypted_hotkeys else "not encrypted") for n, ss58 in hotkeys.items()]
    width = max(len(r[0]) for r in rows)
    for label, ss58, note in rows:
        print(f"  {label:<{width}}  {ss58}  ({note})")


def _backup(args, mnemonics: dict) -> None:
    text = "".join(f"{label}: {m.get_secret_value()}\n" for label, m in mnemonics.items())
    if args.mnemonic_file:
        from neurons.wallet.files import write_private
        path = Path(args.mnemonic_file).expanduser()
        write_private(path, text.encode(), overwrite=False)
        print(f"mnemonics written to {path} (mode 0600): copy them somewhere offline, then delete the file")
    if args.show_mnemonic:
        print("mnemonics (anyone who sees them owns the keys; write them down offline):")
        print(text, end="")
    if not (args.mnemonic_file or args.show_mnemonic):
        print("note: mnemonics were not shown; the key files are the only copy. "
              "Back them up, or recreate with --overwrite --show-mnemonic / --mnemonic-file PATH before using the keys.",
              file=sys.stderr)


def _list(root: Path) -> int:
    from neurons.wallet import Wallet, WalletError
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not names:
        print(f"no wallets in {root}: create one with `neuron wallet create`")
        return 0
    for name in names:
        try:
            wallet = Wallet(name, root)
        except WalletError:
            continue  # a directory whose name is not a wallet name
        print(name)
        _describe(wallet)
    return 0


def _show(wallet, cfg, args) -> int:
    if hasattr(wallet, "dir") and not wallet.dir.is_dir():
        from neurons.wallet import WalletNotFoundError
        raise WalletNotFoundError(f"no wallet {wallet.name!r} in {wallet.root}",
                                  hint=f"create it with `neuron wallet create --wallet {wallet.name}`, or see `neuron wallet list`")
    print(f"wallet {wallet.name!r}" + (f" in {wallet.dir}" if hasattr(wallet, "dir") else " (dev-only keys)"))
    _describe(wallet)
    return 0


def _describe(wallet) -> None:
    """Addresses only (never decrypts); a key that cannot be read is listed with the reason."""
    from neurons.wallet import WalletError

    def row(label: str, get) -> None:
        try:
            print(f"  {label:<20} {get()}")
        except WalletError as e:
            print(f"  {label:<20} unreadable: {e}")

    row("coldkey", lambda: wallet.coldkeypub)
    for name in wallet.hotkeys():
        row(f"hotkey {name}", lambda n=name: wallet.hotkey_ss58(n) + ("  (encrypted)" if wallet.hotkey_encrypted(n) else ""))


def _fund(wallet, cfg, args) -> int:
    import chain as chain_mod
    from neurons.cli.keys import tao, tao_to_rao
    amount, dest = tao_to_rao(args.amount), wallet.coldkeypub
    with chain_mod.connect(cfg.chain.url) as chain:
        chain.transfer(chain.faucet(), dest, amount)
        balance = chain.balance(dest)
    print(f"funded wallet {wallet.name!r} coldkey {dest} with {tao(amount)} from the dev account; balance {tao(balance)}")
    return 0


def _import(wallet, cfg, args) -> int:
    from neurons.wallet import WalletLockedError, password_or_prompt
    from neurons.wallet.bittensor import PASSWORD_ENV, read_sdk_wallet, store
    src = Path(args.bittensor_path).expanduser()

    def source_password() -> str:
        try:
            return password_or_prompt(password_file=args.bittensor_password_file, password_env=PASSWORD_ENV,
                                      what=f"the Bittensor wallet {src}")
        except WalletLockedError as e:
            raise WalletLockedError(str(e), hint=f"set {PASSWORD_ENV}, pass --bittensor-password-file FILE, "
                                                 "or run in a terminal to be prompted") from None

    sdk = read_sdk_wallet(src, source_password)
    password = _password(cfg, f"the imported wallet {wallet.name!r}", confirm=True) if sdk.needs_password else None
    done = store(sdk, wallet, password, overwrite=args.overwrite)
    print(f"imported Bittensor wallet {src} as wallet {wallet.name!r} in {wallet.dir}")
    width = max(len(label) for label, _, _ in done)
    for label, ss58, encrypted in done:
        print(f"  {label:<{width}}  {ss58}  ({'encrypted' if encrypted else 'not encrypted'})")
    return 0


def _regen(wallet, cfg, args) -> int:
    from neurons.cli.errors import CLIError
    if args.key == "coldkeypub":
        if not args.ss58:
            raise CLIError("regen coldkeypub needs the address", hint="pass --ss58 5…")
        print(f"wallet {wallet.name!r}: watch-only coldkey {wallet.regen_coldkeypub(args.ss58, overwrite=args.overwrite)}")
        return 0
    mnemonic = _read_mnemonic(args.mnemonic_file)
    if args.key == "coldkey":
        ss58 = wallet.regen_coldkey(mnemonic, _password(cfg, f"the coldkey of {wallet.name!r}", confirm=True),
                                    overwrite=args.overwrite)
        print(f"wallet {wallet.name!r}: coldkey {ss58} restored (encrypted)")
    else:
        name = cfg.wallet.hotkey
        password = _password(cfg, f"hotkey {name!r}", confirm=True) if args.encrypt else None
        ss58 = wallet.regen_hotkey(name, mnemonic, password=password, overwrite=args.overwrite)
        print(f"wallet {wallet.name!r}: hotkey {name!r} {ss58} restored")
    return 0


def _read_mnemonic(path: str | None) -> str:
    from neurons.cli.errors import CLIError
    if path == "-":
        return sys.stdin.readline()
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CLIError(f"cannot read mnemonic file {path}: {e}") from None
    if not sys.stdin.isatty():
        raise CLIError("no mnemonic given", hint="pass --mnemonic-file PATH (or '-' to read it from stdin)")
    import getpass
    return getpass.getpass("mnemonic (hidden): ")
