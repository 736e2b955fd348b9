"""Scoped reads of commands: a client sees only the commands it created."""

from collections.abc import Iterable

from django.conf import settings

from hermod_core import sql
from hermod_core.crypto.tokens import MESSAGE_TOKEN, unseal
from hermod_core.models import Certificate, Client, Command, Message, Profile
from hermod_core.protocol.commands import BY_TYPE, CommandType
from hermod_core.protocol.results import (
    CertificateView,
    DestinationView,
    KeyView,
    ProfileView,
    ResultView,
    app_link,
    box_url,
    fqdn,
    message_location,
    plugout_uri,
)


def commands_in_progress(*, client_id: int) -> int:
    """How many of the client's commands are in progress: the sum of its tally slots."""
    return sql.in_progress_count(client_id)


def command_get_for_client(*, client: Client, command_id: int) -> Command | None:
    """The client's own command, or None (answered 404, like a command that does not exist)."""
    return sql.command_of_client(command_id=command_id, client_id=client.pk)


def profile_view(profile: Profile) -> ProfileView:
    """A provisioned profile (read with its user, box and keys) as its result body shows it."""
    mailbox = getattr(profile, "mailbox", None)
    return ProfileView(
        id=str(profile.id),
        userid=profile.user.userid,
        name=profile.name,
        servername=profile.servername,
        boxurl=box_url(settings.HERMOD_PUBLIC_URL, str(mailbox.id)) if mailbox else None,
        keys=tuple(
            KeyView(
                keyid=key.keyid,
                usage=key.usage,
                keytype=key.keytype,
                keylength=key.keylength,
                certreq=key.certreq,
            )
            for key in profile.keys.all()
        ),
        device_info=profile.device_info,
    )


def certificate_views(certificates: Iterable[Certificate]) -> tuple[CertificateView, ...]:
    """Certificates (read with their keys) as a result body lists them."""
    return tuple(
        CertificateView(
            keyid=cert.key.keyid,
            data=cert.der_b64,
            subject=cert.subject,
            issuer=cert.issuer,
            not_after=cert.not_after,
        )
        for cert in certificates
    )


def destination_views(
    command: Command, *, messages: Iterable[Message] | None = None, with_uri: bool = True
) -> list[DestinationView]:
    """The command's destinations (its ``messages``, when the caller has read them) as its
    result body shows them, with their progress (state, fetchedAt). ``with_uri=False`` leaves
    the plug-out URI and app link (and their token) out: the console's view of them."""
    public_url = settings.HERMOD_PUBLIC_URL
    destinations = []
    for message in command.messages.all() if messages is None else messages:
        bid = str(message.mailbox_id)
        location = message_location(public_url, bid, str(message.id))
        uri = applink = None
        if with_uri:
            token = unseal(settings.HERMOD_KEY_HASH_SECRET, MESSAGE_TOKEN, message.token_sealed)
            uri = plugout_uri(box_url(public_url, bid), token)
            applink = app_link(settings.HERMOD_APP_LINK_SCHEME, location, token)
        destinations.append(
            DestinationView(
                to=message.to,
                bid=bid,
                mid=str(message.id),
                uri=uri,
                location=location,
                pid=str(message.profile_id) if message.profile_id else None,
                applink=applink,
                state=message.state,
                fetched_at=message.fetched_at,
            )
        )
    return destinations


def command_result_view(
    command: Command, *, messages: Iterable[Message] | None = None
) -> ResultView:
    """What the result body of docs/PROTOCOL.md §8 shows of a command as it is now (its
    ``messages``, when the caller has them, else read), as plain values for
    ``protocol.results.result_body``: a completed provisioning's profile and CA-issued
    certificates are read here."""
    endpoint = BY_TYPE[CommandType(command.command_type)]
    profile = None
    certificates: tuple[CertificateView, ...] = ()
    completed_prov = command.command_type == CommandType.PROV and command.state == "COMPLETED"
    if completed_prov and command.profile_id:
        prov_profile = (
            Profile.objects.select_related("user", "mailbox")
            .prefetch_related("keys")
            .get(pk=command.profile_id)
        )
        profile = profile_view(prov_profile)
        certificates = certificate_views(
            Certificate.objects.filter(
                profile=prov_profile, source=Certificate.Source.CA
            ).select_related("key")
        )
    return ResultView(
        command_id=command.pk,
        external_id=command.external_id or None,
        command_type=command.command_type,
        state=command.state,
        fqdn=fqdn(settings.HERMOD_PUBLIC_URL),
        destinations=tuple(destination_views(command, messages=messages)),
        answer=command.answer,
        answer_key=endpoint.answer_key,
        profile=profile,
        certificates=certificates,
        failure_code=command.failure_code,
        failure_reason=command.failure_reason,
        signature=command.signature,
        ca_state=command.ca_state,
        ca_error=command.ca_error,
    )
