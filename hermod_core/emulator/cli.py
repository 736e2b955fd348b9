"""`hermod-device`: the reference device on the command line (see `main --help`)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import requests

from hermod_core.crypto.jwk import thumbprint
from hermod_core.emulator.device import AnswerOutcome, Device, default_deviceinfo
from hermod_core.emulator.faults import FAULT_HELP, Faults, fault_names
from hermod_core.emulator.http import DeviceError
from hermod_core.emulator.push import WebPushReceiver, register_profiles, run_woken

EXIT_OK: Final = 0
EXIT_NOT_COMPLETED: Final = 1  # the server answered, but not COMPLETED (FAILED, 4xx)
EXIT_DEVICE_ERROR: Final = 2  # bad URI, box did not open, server unreachable, bad usage

DESCRIPTION = """\
Hermod reference device: plays the mobile / desktop authenticator app against a Hermod server,
so integrators can test provisioning, certificates, sign, authenticate, ping, PIN reset and
delete without a phone. It is client side only: it talks HTTP to the mailbox API (docs/PROTOCOL.md
§6) like a real app, and keeps its attestation key, profiles, keys and certificates in a state
folder.

Every answered message prints one JSON line:
  {"mid": ..., "commandType": "PROV", "status": 200, "state": "COMPLETED"}
  {"mid": ..., "commandType": "SIGN", "status": 422, "error": {"code": ..., "message": ...}}
Exit code: 0 when every answer was COMPLETED, 1 otherwise, 2 when the device could not act.
"""

EPILOG = """\
examples:
  # provision: paste the plug-out URI the command API returned (destinations[].uri)
  hermod-device enroll 'com.nexusgroup.plugout:///?url=https%3A%2F%2Fhermod.example.com%2Fhermod%2Frest%2Fms%2F<bid>&token=<token>'
  # then answer everything sent to the provisioned profiles (certificate, sign, ping ...)
  hermod-device run --once
  hermod-device run --interval 2          # keep polling, like an app in the foreground
  hermod-device run --push webpush        # sleep until a Web Push wakes it (docs/push.md)
  hermod-device show                      # list stored profiles and keys
  # prove the server refuses broken answers
  hermod-device --fault wrong-nonce enroll '<uri>'       # -> 422 NONCE_MISMATCH, exit 1
  hermod-device --decline run --once                     # every message -> code 1, FAILED

faults (--fault NAME, repeatable; the server's expected error code after the arrow):
"""
_WIDTH: Final = 92


def _fault_list() -> str:
    """The fault flags, what each makes the device do, and the server's answer."""
    lines = []
    for name, (what, code) in FAULT_HELP.items():
        lines.append(
            textwrap.fill(what, _WIDTH, initial_indent=f"  {name:<18}", subsequent_indent=" " * 20)
        )
        lines.append(
            textwrap.fill(f"-> {code}", _WIDTH, initial_indent=" " * 20, subsequent_indent=" " * 23)
        )
    return "\n".join(lines)


def _paragraph(text: str) -> str:
    return textwrap.fill(text, _WIDTH)


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # The same options are accepted before and after the subcommand; on the subcommand they
    # default to SUPPRESS so they do not overwrite a value given before it.
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    def flag(*names: str, help: str) -> None:
        parser.add_argument(*names, action="store_true", default=default(False), help=help)

    parser.add_argument(
        "--state",
        type=Path,
        default=default(Path("hermod-device-state")),
        help="state folder: attestation key, profiles, keys (default ./hermod-device-state)",
    )
    parser.add_argument(
        "--fault",
        dest="faults",
        action="append",
        choices=fault_names(),
        default=default([]),
        metavar="NAME",
        help="commit a deliberate fault (repeatable); listed in hermod-device --help",
    )
    flag("--decline", help="answer every message with code 1 (user declined)")
    flag(
        "--quirky-jwk",
        help='write JWKs like real apps: leading zero byte in "n", "n#len", "keystate"',
    )
    parser.add_argument(
        "--attestation-key",
        choices=("rsa", "ec"),
        default=default("rsa"),
        help="type of the attestation key made for a new state folder (RSA 2048 or P-256)",
    )
    flag("--token-in-query", help="send tokens as ?token= instead of 'Authorization: Bearer'")
    parser.add_argument(
        "--device-name",
        default=default("hermod-device"),
        help="deviceinfo.name reported to the server",
    )
    parser.add_argument(
        "--ca-bundle",
        type=Path,
        default=default(None),
        help="CA certificates (PEM) to trust for an https server with a private CA",
    )
    flag("--insecure", help="do not verify the server's TLS certificate (test servers only)")
    flag(
        "--app-link-http",
        help="open personal:// app links over http instead of https (test servers only)",
    )
    flag("-v", "--verbose", help="log HTTP steps")


def _subcommand(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    help: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """A subcommand parser with its description wrapped to the help width."""
    return commands.add_parser(
        name,
        help=help,
        description=_paragraph(description),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The `hermod-device` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(
        prog="hermod-device",
        description=DESCRIPTION,
        epilog=EPILOG + _fault_list(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    enroll = _subcommand(
        commands,
        "enroll",
        help="open a plug-out URI, app link (or message URL) and answer its message",
        description="Open a plug-out URI as the app does when its link is tapped or its QR code "
        "scanned, fetch the waiting message and answer it. For a provisioning the new profile "
        "is stored in the state folder once the server answered COMPLETED.",
        epilog="examples:\n"
        "  hermod-device enroll 'com.nexusgroup.plugout:///?url=<box url>&token=<token>'\n"
        "  hermod-device enroll 'personal://<host>/hermod/rest/ms/<bid>/<mid>?title=&redirect=&"
        "token=<token>'\n"
        "  hermod-device enroll https://hermod.example.com/hermod/rest/ms/<bid>/<mid> "
        "--token <token>",
    )
    enroll.add_argument("uri", metavar="URI", help="plug-out URI, or message URL with --token")
    enroll.add_argument("--token", help="one-time token (overrides the URI's)")

    run = _subcommand(
        commands,
        "run",
        help="poll the stored profiles' boxes and answer every message",
        description="Poll the permanent box of every stored profile with its box token and "
        "answer each waiting message by type: CERT stores the certificates, AUTH/SIGN sign "
        "with the key the filter selects (jws or pkcs7), PING reports device and profile info, "
        "SPIN returns a fresh nonce, EPIN stores a new admin key, DELETE forgets the profile, "
        "anything else is answered with code 3 (not supported).",
        epilog="examples:\n  hermod-device run --once\n  hermod-device run --interval 5\n"
        "  hermod-device run --push webpush --push-listen 0.0.0.0:8099",
    )
    run.add_argument("--once", action="store_true", help="one pass, then exit")
    run.add_argument(
        "--push",
        choices=["webpush"],
        help="wait for pushes instead of polling: run a local Web Push receiver, register its "
        "endpoint for every profile (PUT <box url>/push), fetch and answer on each push; "
        "--interval then is the rare safety poll (default 60 s)",
    )
    run.add_argument(
        "--push-listen",
        default="127.0.0.1:0",
        metavar="HOST:PORT",
        help="address of the Web Push receiver (default 127.0.0.1 on a free port); the server "
        "must reach it",
    )
    run.add_argument(
        "--interval", type=float, default=None, help="seconds between passes (default 2)"
    )

    _subcommand(
        commands,
        "show",
        help="list the stored profiles (no private keys)",
        description="Print one JSON line per stored profile: ids, box, user, keys with their "
        "type and whether a certificate is installed, desktop fields, the card images of the "
        "provisioning (visualData) and the images shown with the latest requests (shown), each "
        "as key, content type, size and SHA-256.",
    )

    answer = _subcommand(
        commands,
        "answer",
        help="fetch one message by its location and answer it",
        description="Fetch the message at LOCATION (<public-url>/<bid>/<mid>) with the given "
        "token (one-time token or box token) and answer it.",
        epilog="example:\n  hermod-device answer https://hermod.example.com/hermod/rest/ms/"
        "<bid>/<mid> --token <token>",
    )
    answer.add_argument("location", metavar="LOCATION", help="the message URL")
    answer.add_argument("--token", required=True, help="one-time token or box token")

    rotate = _subcommand(
        commands,
        "rotate-token",
        help="replace a stored profile's box token by a new one",
        description="Ask the server for a new box token with the current one (POST "
        "<box url>/token); the old token stops opening the box at once. Without PROFILEID "
        "every stored profile's token is rotated.",
        epilog="example:\n  hermod-device rotate-token 3f0c6f4e-0a51-4bde-9f36-2c1d4b3e8a77",
    )
    rotate.add_argument("profileid", metavar="PROFILEID", nargs="?", help="the profile's id")

    for subcommand in commands.choices.values():
        _common_options(subcommand, suppress=True)  # after its own arguments, as in its help
    return parser


def _session(args: argparse.Namespace) -> requests.Session:
    session = requests.Session()
    if args.insecure:
        session.verify = False
    elif args.ca_bundle is not None:
        session.verify = str(args.ca_bundle)
    return session


def _print(line: dict[str, Any]) -> None:
    print(json.dumps(line, separators=(",", ":")), flush=True)


def _report(outcomes: Sequence[AnswerOutcome]) -> int:
    for outcome in outcomes:
        _print(outcome.as_json())
    return EXIT_OK if all(o.completed for o in outcomes) else EXIT_NOT_COMPLETED


def _show(device: Device) -> int:
    attestation = thumbprint(device.attestation_key.public_key())
    for profile in device.profiles:
        _print(
            {
                "profileid": profile.profile_id,
                "userid": profile.userid,
                "name": profile.name,
                "servername": profile.servername,
                "boxurl": profile.boxurl,
                "activated": profile.activated,
                "attestation": attestation,
                "keys": [
                    {
                        "keyid": k.keyid,
                        "usage": k.usage,
                        "keytype": k.keytype,
                        "keylength": k.keylength,
                        "keystate": k.keystate,
                        "certificate": k.keyid in profile.certificates,
                    }
                    for k in profile.keys.values()
                ],
                "vscinfo": profile.vscinfo,
                "desktopExtensions": profile.desktop_extensions,
                "visualData": profile.visual_data,
                "shown": profile.shown,
            }
        )
    return EXIT_OK


def _run(device: Device, *, once: bool, interval: float) -> int:
    if once:
        return _report(device.run_once())

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (docker stop, CI teardown) ends the loop like Ctrl-C

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            try:
                _report(device.run_once())
            except DeviceError as exc:
                # A polling app survives a server restart; so does the emulator.
                logging.getLogger(__name__).warning("%s (%s)", exc.message, exc.code)
            time.sleep(interval)
    except KeyboardInterrupt:
        return EXIT_OK


def _run_push(device: Device, *, listen: str, interval: float) -> int:
    host, _, port = listen.rpartition(":")
    receiver = WebPushReceiver(host=host or "127.0.0.1", port=int(port or 0)).start()

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        registered = register_profiles(device, receiver)
        _print({"push": "webpush", "endpoint": receiver.endpoint, "profiles": registered})
        run_woken(device, receiver, safety_interval=interval, report=_report)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        receiver.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hermod-device`; returns the exit code (see DESCRIPTION)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="hermod-device: %(message)s",
        stream=sys.stderr,
    )
    try:
        device = Device(
            args.state,
            session=_session(args),
            faults=Faults.from_names(args.faults),
            decline=args.decline,
            quirky_jwk=args.quirky_jwk,
            attestation=args.attestation_key,
            token_in_query=args.token_in_query,
            deviceinfo=default_deviceinfo(args.device_name),
            app_link_http=args.app_link_http,
        )
        if args.command == "enroll":
            return _report([device.enroll(args.uri, args.token)])
        if args.command == "answer":
            message = device.fetch(args.location, args.token)
            return _report([device.answer(args.location, args.token, message)])
        if args.command == "run" and args.push:
            return _run_push(device, listen=args.push_listen, interval=args.interval or 60.0)
        if args.command == "run":
            return _run(device, once=args.once, interval=args.interval or 2.0)
        if args.command == "rotate-token":
            ids = [args.profileid] if args.profileid else [p.profile_id for p in device.profiles]
            for profile_id in ids:
                device.rotate_box_token(profile_id)
                _print({"profileid": profile_id, "rotated": True})
            return EXIT_OK
        return _show(device)
    except DeviceError as exc:
        _print({"error": {"code": exc.code, "message": exc.message}, "status": exc.http_status})
        print(f"hermod-device: {exc.message}", file=sys.stderr)
        return EXIT_DEVICE_ERROR


if __name__ == "__main__":
    sys.exit(main())
