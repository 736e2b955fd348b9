from hermod_core.models.audit import AuditEvent
from hermod_core.models.ca import CaChallenge
from hermod_core.models.callbacks import CallbackAttempt, CallbackDelivery, DeliveryState
from hermod_core.models.clients import (
    CaSettings,
    ChallengeMode,
    Client,
    Group,
    TrustedAttestationKey,
    TrustedSignerCa,
)
from hermod_core.models.commands import (
    Command,
    CommandState,
    CommandType,
    ContentResolution,
    ContentResolutionState,
    InProgressTally,
)
from hermod_core.models.mailboxes import Mailbox, MailboxKind, Message, MessageState
from hermod_core.models.profiles import (
    AcceptedSignature,
    Certificate,
    EndUser,
    Key,
    KeyUsage,
    Profile,
    ProfileState,
)
from hermod_core.models.push import (
    GroupPushSettings,
    PushDelivery,
    PushProviderName,
    PushRegistration,
    PushState,
    RelayAuth,
)

__all__ = [
    "AcceptedSignature",
    "AuditEvent",
    "CaChallenge",
    "CaSettings",
    "CallbackAttempt",
    "CallbackDelivery",
    "Certificate",
    "ChallengeMode",
    "Client",
    "Command",
    "CommandState",
    "CommandType",
    "ContentResolution",
    "ContentResolutionState",
    "DeliveryState",
    "EndUser",
    "Group",
    "GroupPushSettings",
    "InProgressTally",
    "Key",
    "KeyUsage",
    "Mailbox",
    "MailboxKind",
    "Message",
    "MessageState",
    "Profile",
    "ProfileState",
    "PushDelivery",
    "PushProviderName",
    "PushRegistration",
    "PushState",
    "RelayAuth",
    "TrustedAttestationKey",
    "TrustedSignerCa",
]
