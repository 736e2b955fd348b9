"""The command and destination state machines of docs/PROTOCOL.md §7, as pure transition tables."""

from enum import StrEnum


class State(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class DestinationState(StrEnum):
    WAITING = "WAITING"
    FETCHED = "FETCHED"
    ANSWERED = "ANSWERED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


class CaStep(StrEnum):
    """The certificate-authority step of a completed provisioning (docs/PROTOCOL.md §10), stored
    in ``Command.ca_state`` (empty: the group has no CA, there is no step)."""

    PENDING = "PENDING"  # the provisioning callback waits for the certificates
    DONE = "DONE"
    FAILED = "FAILED"


FINAL_STATES = frozenset({State.COMPLETED, State.FAILED, State.EXPIRED, State.CANCELLED})

# A final command never changes again: only IN_PROGRESS has successors.
COMMAND_TRANSITIONS: dict[State, frozenset[State]] = {
    State.IN_PROGRESS: FINAL_STATES,
    **{state: frozenset() for state in FINAL_STATES},
}

OPEN_DESTINATIONS = frozenset({DestinationState.WAITING, DestinationState.FETCHED})
DESTINATION_TRANSITIONS: dict[DestinationState, frozenset[DestinationState]] = {
    DestinationState.WAITING: frozenset(
        {
            DestinationState.FETCHED,
            DestinationState.ANSWERED,
            DestinationState.WITHDRAWN,
            DestinationState.EXPIRED,
        }
    ),
    DestinationState.FETCHED: frozenset(
        {DestinationState.ANSWERED, DestinationState.WITHDRAWN, DestinationState.EXPIRED}
    ),
    DestinationState.ANSWERED: frozenset(),
    DestinationState.WITHDRAWN: frozenset(),
    DestinationState.EXPIRED: frozenset(),
}


def command_sources(target: State) -> frozenset[State]:
    """The states a command may be in for a transition to ``target`` to be allowed."""
    return frozenset(s for s, successors in COMMAND_TRANSITIONS.items() if target in successors)


def destination_sources(target: DestinationState) -> frozenset[DestinationState]:
    return frozenset(s for s, successors in DESTINATION_TRANSITIONS.items() if target in successors)


def destination_end_state(command_state: State) -> DestinationState:
    """What the still-open destinations of a command become when it reaches ``command_state``.

    An expired command's destinations expire; any other end withdraws them (the first valid answer
    wins, a cancel withdraws).
    """
    if command_state not in FINAL_STATES:
        raise ValueError(f"{command_state} is not final")
    return (
        DestinationState.EXPIRED if command_state is State.EXPIRED else DestinationState.WITHDRAWN
    )
