# The states' one spelling is the pure enums'; the models' names for them are these aliases.
from hermod_core.lifecycle import DestinationState as MessageState
from hermod_core.lifecycle import State as CommandState
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
    ContentResolution,
    ContentResolutionState,
    InProgressTally,
)
from hermod_core.models.mailboxes import Mailbox, MailboxKind, Message
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
from hermod_core.protocol.commands import CommandType

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
