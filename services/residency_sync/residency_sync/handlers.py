"""Service layer: apply one resident-record change to the addressee slice and say what it means."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kokunen_common.crypto import MyNumberVault
from kokunen_common.ids import derived_id
from kokunen_common.messaging import Delivery, UnitOfWork
from kokunen_common.telemetry import continuing, current_traceparent
from kokunen_contracts.envelope import now
from kokunen_contracts.registry import PERSON_CHANGED
from kokunen_contracts.residency import (
    Address,
    ChangeReason,
    HouseholderInfo,
    PersonChanged,
    PersonChangeKind,
    ProcessingSuspension,
    ResidenceStatus,
    ResidentChanged,
)

from .adapters.repository import (
    AddresseeRepository,
    HeldPerson,
    PersonPointer,
    addressee_parts,
    version_values,
)
from .domain.changes import (
    NORMALISED_KIND,
    Arrival,
    CurrentVersion,
    KnownPerson,
    becomes_current,
    classify_arrival,
    is_resident_after,
    lives_in_japan,
)


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
    suspension = state.get("processing_suspension")
    householder = state.get("householder")
    if isinstance(householder, HouseholderInfo):  # a record's part (``addressee_parts``), not a stored row's JSON
        householder = householder.model_dump()
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
        householder_atena_number=(householder or {}).get("atena_number"),
        processing_suspension=None if suspension is None else ProcessingSuspension.model_validate(suspension),
    )


@dataclass(frozen=True)
class StoredMyNumber:
    """個人番号 as a version stores it: sealed for the person, its key id and the lookup hash."""

    sealed: str | None = None
    key_id: str | None = None
    digest: bytes | None = None


def store_my_number(vault: MyNumberVault, change: ResidentChanged) -> StoredMyNumber:
    number = change.resident.my_number
    if number is None:
        return StoredMyNumber()
    sealed = vault.seal(number, change.resident.atena_number)
    return StoredMyNumber(sealed, vault.key_id_of(sealed), vault.lookup_hash(number))


def residence_flags(change: ResidentChanged) -> dict[str, bool]:
    return {
        "is_resident": is_resident_after(change.reason, change.resident),
        "lives_in_japan": lives_in_japan(change.resident, change.reason),
    }


def version_of(
    change: ResidentChanged,
    arrival: Arrival,
    event_id: uuid.UUID | None,
    my_number: StoredMyNumber,
    flags: Mapping[str, bool],
) -> dict[str, Any]:
    """The ``person_version`` row a change is stored as."""
    return version_values(
        change,
        arrival=arrival,
        published_event_id=event_id,
        my_number_sealed=my_number.sealed,
        my_number_key_id=my_number.key_id,
        my_number_hash=my_number.digest,
        is_resident=flags["is_resident"],
        lives_in_japan=flags["lives_in_japan"],
    )


def announced_event_id(change: ResidentChanged, cancelled_by: str | None) -> uuid.UUID | None:
    """The person change a change publishes; none for a 消除 half of 帰化/国籍喪失, nor for a change whose
    cancellation came first (it is recorded but never takes effect downstream)."""
    kind = NORMALISED_KIND[change.reason]
    return derived_id(change.event_id, "person-changed") if kind is not None and cancelled_by is None else None


def announcement(
    change: ResidentChanged,
    event_id: uuid.UUID,
    flags: Mapping[str, bool],
    my_number: StoredMyNumber,
    replaces: uuid.UUID | None,
) -> PersonChanged:
    kind = NORMALISED_KIND[change.reason]
    assert kind is not None
    state = {**addressee_parts(change.resident), **flags, "my_number_sealed": my_number.sealed}
    return person_changed(
        kind=kind,
        event_id=event_id,
        atena_number=change.resident.atena_number,
        effective_date=change.effective_date,
        state=state,
        cause=change,
        replaces_event_id=replaces,
    )


class ResidentChangeHandler:
    """住民記録異動の反映 (reflect a resident-record change), one change at a time."""

    def __init__(self, vault: MyNumberVault) -> None:
        self.vault = vault

    async def __call__(self, delivery: Delivery[ResidentChanged], uow: UnitOfWork) -> None:
        await self.apply(delivery.event, uow)

    async def apply(self, change: ResidentChanged, uow: UnitOfWork) -> None:
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
        event_id = announced_event_id(change, cancelled_by)
        my_number = store_my_number(self.vault, change)
        flags = residence_flags(change)
        version_id = await repo.add_version(version_of(change, arrival, event_id, my_number, flags))
        if cancelled_by is not None:
            await repo.cancel_version(version_id, cancelled_by)
        await repo.make_current(atena)
        if event_id is not None:
            uow.publish(PERSON_CHANGED, announcement(change, event_id, flags, my_number, replaces))

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


@dataclass(frozen=True)
class _Gathered:
    change: ResidentChanged
    trace: dict[str, str]


class ResidentChangeBatchHandler:
    """住民記録異動の反映, a polled batch at once (the stream path, issue 12).

    Each message is gathered with its trace; ``finish_batch`` reads what the batch needs in one statement per
    kind, decides in memory with the same rules as ``ResidentChangeHandler`` (``classify_arrival``,
    ``announced_event_id``, ``residence_flags``, ``becomes_current``), stores the versions by one COPY and the
    persons by one upsert. The persons whose changes need history (a cancellation, a late change, a 異動番号
    seen before or named by a cancellation) are applied by ``ResidentChangeHandler``, change by change, in
    arrival order; no other person of the batch shares anything with them."""

    def __init__(self, vault: MyNumberVault) -> None:
        self.vault = vault
        self.one = ResidentChangeHandler(vault)

    async def __call__(self, delivery: Delivery[ResidentChanged], uow: UnitOfWork) -> None:
        uow.batch.setdefault("resident_changes", []).append(_Gathered(delivery.event, current_traceparent()))

    async def finish_batch(self, uow: UnitOfWork) -> None:
        gathered: list[_Gathered] = uow.batch.pop("resident_changes", [])
        if not gathered:
            return
        repo = AddresseeRepository(uow.conn)
        by_person: dict[str, list[_Gathered]] = {}
        for item in gathered:
            by_person.setdefault(item.change.resident.atena_number, []).append(item)
        change_ids = Counter(item.change.change_id for item in gathered)
        named = {item.change.cancels_change_id for item in gathered if item.change.cancels_change_id}
        seen = await repo.change_ids_seen(list(change_ids))
        held = await repo.held_persons(list(by_person))

        # A cancellation touches the person of the change it names, whoever the batch says it concerns.
        one_by_one = await repo.persons_of_changes(list(named)) if named else set()
        versions: list[dict[str, Any]] = []
        pointers: list[PersonPointer] = []
        announcements: list[tuple[_Gathered, PersonChanged]] = []
        taken = named | seen
        for atena, items in by_person.items():
            planned = None if atena in one_by_one else self._plan(atena, items, held.get(atena), change_ids, taken)
            if planned is None:
                one_by_one.add(atena)
                continue
            versions += planned[0]
            pointers.append(planned[1])
            announcements += planned[2]
        if versions:
            version_ids = await repo.add_versions(versions)
            await repo.point_persons(pointers, version_ids)
        for item, event in announcements:
            uow.publish(PERSON_CHANGED, event, trace=item.trace)
        for item in gathered:
            if item.change.resident.atena_number in one_by_one:
                with continuing(item.trace):
                    await self.one.apply(item.change, uow)

    def _plan(
        self,
        atena: str,
        items: list[_Gathered],
        held: HeldPerson | None,
        change_ids: Counter[str],
        taken: set[str],
    ) -> tuple[list[dict[str, Any]], PersonPointer, list[tuple[_Gathered, PersonChanged]]] | None:
        """One person's changes of the batch in memory: their versions, the person row they leave and what
        they announce; None when one of them needs the person's history (applied one by one instead)."""
        known = held.known if held else None
        current = held.current if held else None
        pointer = (
            PersonPointer(
                atena,
                held.known.latest_effective_date,
                held.known.is_resident,
                held.my_number_hash,
                version_id=held.current_version_id,
            )
            if held
            else None
        )
        versions: list[dict[str, Any]] = []
        announcements: list[tuple[_Gathered, PersonChanged]] = []
        for item in items:
            change = item.change
            if change.reason is ChangeReason.CANCELLATION or change_ids[change.change_id] > 1:
                return None
            if change.change_id in taken:
                return None
            arrival = classify_arrival(change, known)
            if arrival is Arrival.LATE:
                return None
            event_id = announced_event_id(change, None)
            my_number = store_my_number(self.vault, change)
            flags = residence_flags(change)
            versions.append(version_of(change, arrival, event_id, my_number, flags))
            latest = max(change.effective_date, pointer.latest_effective_date) if pointer else change.effective_date
            if becomes_current(change.processed_on, change.effective_date, current):
                current = CurrentVersion(change.processed_on, change.effective_date)
                pointer = PersonPointer(
                    atena, latest, flags["is_resident"], my_number.digest, change_id=change.change_id
                )
            else:
                assert pointer is not None
                pointer = dataclasses.replace(pointer, latest_effective_date=latest)
            known = KnownPerson(pointer.latest_effective_date, pointer.is_resident)
            if event_id is not None:
                announcements.append((item, announcement(change, event_id, flags, my_number, None)))
        assert pointer is not None
        return versions, pointer, announcements
