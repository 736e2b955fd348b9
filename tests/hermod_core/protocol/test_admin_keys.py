"""Smart-card admin keys in command bodies: masked for people, removed once the command ends."""

from hermod_core.protocol.commands import ADMIN_KEY_MASK, admin_keys_masked, admin_keys_removed

KEY, OLD, NEW = "a1" * 24, "b2" * 24, "c3" * 24
PROV = {
    "userid": "u",
    "vscinfo": {"smartcardid": "card-1", "adminkey": KEY, "oldadminkey": OLD, "extra": 1},
}
EPIN = {"smartcardid": "card-1", "encryptednonce": "00ff", "newadminkey": NEW}


def test_a_body_shown_to_a_person_has_its_admin_keys_masked() -> None:
    assert admin_keys_masked(PROV) == {
        "userid": "u",
        "vscinfo": {
            "smartcardid": "card-1",
            "adminkey": ADMIN_KEY_MASK,
            "oldadminkey": ADMIN_KEY_MASK,
            "extra": 1,
        },
    }
    assert admin_keys_masked(EPIN)["newadminkey"] == ADMIN_KEY_MASK
    assert PROV["vscinfo"]["adminkey"] == KEY  # the stored body is not changed by showing it


def test_a_final_body_keeps_everything_but_the_admin_keys() -> None:
    assert admin_keys_removed(PROV) == {
        "userid": "u",
        "vscinfo": {"smartcardid": "card-1", "extra": 1},
    }
    assert admin_keys_removed(EPIN) == {"smartcardid": "card-1", "encryptednonce": "00ff"}


def test_a_body_without_admin_keys_is_left_alone() -> None:
    plain = {"profileid": "p", "vscinfo": "not an object", "params": {"adminkey": "x"}}
    assert admin_keys_removed(plain) is None
    assert admin_keys_masked(plain) is plain
    assert admin_keys_removed([1]) is None
    assert admin_keys_masked(None) is None
