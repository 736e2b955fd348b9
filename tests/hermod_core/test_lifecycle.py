import pytest

from hermod_core.lifecycle import (
    COMMAND_TRANSITIONS,
    FINAL_STATES,
    DestinationState,
    State,
    command_sources,
    destination_end_state,
    destination_sources,
)


def test_a_final_state_never_changes_again() -> None:
    for state in FINAL_STATES:
        assert COMMAND_TRANSITIONS[state] == frozenset()


def test_only_an_in_progress_command_may_end() -> None:
    for final in FINAL_STATES:
        assert command_sources(final) == {State.IN_PROGRESS}
    assert command_sources(State.IN_PROGRESS) == frozenset()


def test_open_destinations_may_be_answered_withdrawn_or_expired() -> None:
    for end in (DestinationState.ANSWERED, DestinationState.WITHDRAWN, DestinationState.EXPIRED):
        assert destination_sources(end) == {DestinationState.WAITING, DestinationState.FETCHED}
    assert destination_sources(DestinationState.FETCHED) == {DestinationState.WAITING}


def test_an_expired_command_expires_its_destinations_other_ends_withdraw_them() -> None:
    assert destination_end_state(State.EXPIRED) is DestinationState.EXPIRED
    for state in (State.COMPLETED, State.FAILED, State.CANCELLED):
        assert destination_end_state(state) is DestinationState.WITHDRAWN
    with pytest.raises(ValueError, match="not final"):
        destination_end_state(State.IN_PROGRESS)


def test_the_model_choices_are_the_pure_enums_themselves() -> None:
    # One spelling per state: the models use the pure enums, not copies kept in step.
    from hermod_core.models import CommandState, CommandType, MessageState
    from hermod_core.protocol.commands import CommandType as WireCommandType

    assert CommandState is State
    assert MessageState is DestinationState
    assert CommandType is WireCommandType
