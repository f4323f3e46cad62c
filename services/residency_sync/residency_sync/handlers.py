"""Service layer: apply one resident-record change to the addressee slice and say what it means."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kokunen_common.crypto import MyNumberVault
from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import PERSON_CHANGED
from kokunen_contracts.residency import (
    Address,
    ChangeReason,
    PersonChanged,
    PersonChangeKind,
    ResidenceStatus,
    ResidentChanged,
)

from .adapters.repository import AddresseeRepository, addressee_values, decoded
from .domain.changes import NORMALISED_KIND, Arrival, classify_arrival, is_resident_after, lives_in_japan


def person_changed(
    *,
    kind: PersonChangeKind,
    event_id: uuid.UUID,
    atena_number: str,
    effective_date: Any,
    state: Mapping[str, Any],
    cause: ResidentChanged,
    cancels_event_id: uuid.UUID | None = None,
    replaces_event_id: uuid.UUID | None = None,
) -> PersonChanged:
    """The normalised event, minimised: no 筆頭者, 通称 or former addresses leave residency; of the household only
    the 続柄 and the 世帯主's 宛名番号 (exemption screening examines the spouse's and householder's income)."""
    moved_out = kind in (PersonChangeKind.MOVED_OUT_ABROAD, PersonChangeKind.MOVED_OUT_DOMESTIC)
    address = state["moved_out_to"] if moved_out and state.get("moved_out_to") else state["current_address"]
    residence = state.get("residence_status")
    return PersonChanged(
        event_id=event_id,
        effective_date=effective_date,
        recorded_at=now(),
        atena_number=atena_number,
        kind=kind,
        source_change_id=cause.change_id,
        cause_event_id=cause.event_id,
        cancels_event_id=cancels_event_id,
        replaces_event_id=replaces_event_id,
        household_number=state["household_number"],
        name=state["name"],
        name_kana=state.get("name_kana"),
        sex=state["sex"],
        birth_date=state["birth_date"],
        address=Address.model_validate(address),
        lives_in_japan=state["lives_in_japan"],
        is_resident=state["is_resident"],
        resident_class=state["resident_class"],
        nationality=state.get("nationality"),
        residence_status=None if residence is None else ResidenceStatus.model_validate(residence),
        my_number_sealed=state.get("my_number_sealed"),
        relationship=state.get("relationship"),
        householder_atena_number=(state.get("householder") or {}).get("atena_number"),
    )


class ResidentChangeHandler:
    """住民記録異動の反映 (reflect a resident-record change)."""

    def __init__(self, vault: MyNumberVault) -> None:
        self.vault = vault

    async def __call__(self, delivery: Delivery[ResidentChanged], uow: UnitOfWork) -> None:
        change = delivery.event
        repo = AddresseeRepository(uow.conn)
        if change.reason is ChangeReason.CANCELLATION:
            await self._cancel(change, repo, uow)
            return
        if await repo.has_change(change.change_id):
            return  # the same 異動 re-sent under another event id: already applied
        atena = change.resident.atena_number
        arrival = classify_arrival(change, await repo.known_person(atena))
        # A late change (異動日 before one we already hold) corrects what was announced for its date on.
        replaces = await repo.event_in_force_on(atena, change.effective_date) if arrival is Arrival.LATE else None
        cancelled_by = await repo.take_parked_cancellation(change.change_id)
        kind = NORMALISED_KIND[change.reason]
        # A change whose cancellation came first is recorded but never takes effect downstream.
        event_id = derived_id(change.event_id, "person-changed") if kind is not None and cancelled_by is None else None
        sealed = key_id = digest = None
        if change.resident.my_number is not None:
            sealed = self.vault.seal(change.resident.my_number, atena)
            key_id = self.vault.key_id_of(sealed)
            digest = self.vault.lookup_hash(change.resident.my_number)
        flags = {
            "is_resident": is_resident_after(change.reason, change.resident),
            "lives_in_japan": lives_in_japan(change.resident, change.reason),
        }
        version_id = await repo.add_version(
            change,
            arrival=arrival,
            published_event_id=event_id,
            my_number_sealed=sealed,
            my_number_key_id=key_id,
            my_number_hash=digest,
            **flags,
        )
        if cancelled_by is not None:
            await repo.cancel_version(version_id, cancelled_by)
        await repo.make_current(atena)
        if event_id is not None and kind is not None:
            state = decoded({**addressee_values(change.resident), **flags, "my_number_sealed": sealed})
            uow.publish(
                PERSON_CHANGED,
                person_changed(
                    kind=kind,
                    event_id=event_id,
                    atena_number=atena,
                    effective_date=change.effective_date,
                    state=state,
                    cause=change,
                    replaces_event_id=replaces,
                ),
            )

    async def _cancel(self, change: ResidentChanged, repo: AddresseeRepository, uow: UnitOfWork) -> None:
        """異動の取消し: the named change is void; undo its effects downstream."""
        assert change.cancels_change_id is not None
        target = await repo.version_of_change(change.cancels_change_id)
        if target is None:
            await repo.park_cancellation(change)  # the change itself has not arrived yet
            return
        if target["cancelled_at"] is not None:
            return
        await repo.cancel_version(target["version_id"], change.change_id)
        current = await repo.make_current(target["atena_number"])
        if target["published_event_id"] is None:
            return
        # The person as they stand once the change is undone; a cancelled first entry leaves nobody.
        state = current if current is not None else {**target, "is_resident": False}
        uow.publish(
            PERSON_CHANGED,
            person_changed(
                kind=PersonChangeKind.CHANGE_CANCELLED,
                event_id=derived_id(change.event_id, "person-changed"),
                atena_number=target["atena_number"],
                effective_date=target["effective_date"],
                state=state,
                cause=change,
                cancels_event_id=target["published_event_id"],
            ),
        )
