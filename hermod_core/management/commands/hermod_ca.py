"""Configure a group's SCEP certificate authority (docs/PROTOCOL.md §10) from the command line.

Warnings about the challenge configuration (a static password sent to devices, a one-time mode
without a verifier credential) go to stderr; the verifier credential is printed once, on stdout.
"""

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hermod_core.models import CaSettings, ChallengeMode, Group
from hermod_core.scep import ScepError
from hermod_core.selectors.ca import ca_challenge_warnings
from hermod_core.selectors.console import group_get
from hermod_core.services.audit import Actor
from hermod_core.services.ca import (
    CaConfigurationError,
    ca_capabilities,
    ca_settings_set,
    ra_identity_pem,
)
from hermod_core.services.ca_challenges import ca_verifier_rotate

CLI = Actor.system("cli")


class Command(BaseCommand):
    help = (
        "Set, show or test the SCEP CA of a group, or generate its verifier credential. The RA "
        "key is never printed; the verifier credential only once, when generated."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        set_ = sub.add_parser("set", help="create or replace the group's CA settings")
        set_.add_argument("group")
        set_.add_argument("--url", required=True, help="the CA's SCEP URL")
        set_.add_argument(
            "--challenge",
            default="",
            help="the CA's static challenge password (kept on the server unless --challenge-mode "
            "static)",
        )
        set_.add_argument(
            "--challenge-mode",
            choices=ChallengeMode.values,
            help="what CSR templates carry: none, one-time (a fresh challenge per template, "
            "checked by the CA through hermod-scep-verify; the default for a new CA) or static "
            "(the CA's password in every template: insecure); default: keep",
        )
        set_.add_argument(
            "--generate-verifier",
            action="store_true",
            help="also generate the CA's verifier credential and print it once",
        )
        identity = set_.add_mutually_exclusive_group(required=True)
        identity.add_argument("--generate-ra", metavar="COMMON_NAME", help="make a new RA key")
        identity.add_argument("--ra-key", type=Path, help="PEM file of the RA's RSA key")
        set_.add_argument("--ra-cert", type=Path, help="PEM file of the RA certificate")
        set_.add_argument("--auto-certify", action="store_true", help="send issued certificates")
        set_.add_argument("--disabled", action="store_true")
        sub.add_parser("show", help="print the settings (not the key)").add_argument("group")
        sub.add_parser("test", help="GetCACaps against the CA").add_argument("group")
        sub.add_parser(
            "verifier",
            help="generate (replace) the credential the CA checks one-time challenges with; "
            "printed once",
        ).add_argument("group")

    def handle(self, *args: Any, **options: Any) -> None:
        group = group_get(options["group"])
        if group is None:
            raise CommandError(f"no group {options['group']!r}")
        if options["action"] == "set":
            self._set(group, options)
            return
        row = CaSettings.objects.filter(group=group).first()
        if row is None:
            raise CommandError(f"group {group.name!r} has no CA")
        if options["action"] == "verifier":
            self._print_verifier(ca_verifier_rotate(group=group, actor=CLI))
            self._warn(row)
            return
        if options["action"] == "show":
            verifier = (
                f"set {row.verifier_created_at:%Y-%m-%d %H:%M}" if row.verifier_hash else "none"
            )
            self.stdout.write(
                f"url: {row.scep_url}\nenabled: {row.enabled}\nauto-certify: {row.auto_certify}\n"
                f"challenge-mode: {row.challenge_mode}\n"
                f"challenge: {'set' if row.challenge_password else 'none'}\n"
                f"verifier: {verifier}\n"
                f"ra-certificate:\n{row.ra_certificate_pem}"
            )
            self._warn(row)
            return
        try:
            caps = ca_capabilities(settings_row=row)
        except (ScepError, CaConfigurationError) as exc:
            raise CommandError(f"CA test failed: {exc}") from None
        self.stdout.write("GetCACaps: " + " ".join(sorted(caps)))

    def _set(self, group: Group, options: dict[str, Any]) -> None:
        if options["generate_ra"]:
            key_pem, cert_pem = ra_identity_pem(options["generate_ra"])
        else:
            if options["ra_cert"] is None:
                raise CommandError("--ra-key needs --ra-cert")
            try:
                key_pem = options["ra_key"].read_text(encoding="utf-8")
                cert_pem = options["ra_cert"].read_text(encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot read the RA files: {exc.strerror}") from None
        try:
            row = ca_settings_set(
                group=group,
                scep_url=options["url"],
                challenge_password=options["challenge"],
                challenge_mode=options["challenge_mode"],
                ra_key_pem=key_pem,
                ra_certificate_pem=cert_pem,
                auto_certify=options["auto_certify"],
                enabled=not options["disabled"],
                actor=CLI,
            )
        except CaConfigurationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"CA of {group.name} set: {options['url']}")
        if options["generate_verifier"]:
            self._print_verifier(ca_verifier_rotate(group=group, actor=CLI))
            row.refresh_from_db()
        self._warn(row)

    def _print_verifier(self, credential: str) -> None:
        self.stdout.write(
            f"verifier: {credential}\n"
            "(shown once: give it to the CA, e.g. HERMOD_CA_VERIFIER_CREDENTIAL for "
            "hermod-scep-verify)"
        )

    def _warn(self, row: CaSettings) -> None:
        for warning in ca_challenge_warnings(row):
            self.stderr.write(f"WARNING: {warning}")
