"""The counter's slice on real Kafka and PostgreSQL: fed only by events, My Number sealed at rest, the access log
append-only and hash-chained (a tampered row is found by ``counter verify-access-log``), and a replay that
rebuilds the read model exactly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from counter import page_workers
from counter.adapters.repository import AccessLog, ReadModel
from counter.app import build, verify_access_log
from counter.domain.search import parse_search
from kokunen_common.replay import replay
from kokunen_contracts import eligibility as e
from kokunen_contracts.eligibility import AcquisitionReason
from kokunen_contracts.registry import (
    BENEFIT_CLAIM_RECEIVED,
    EXEMPTION_DECIDED,
    EXEMPTION_NOTIFICATION_OUTCOME,
    EXEMPTION_SCREENED,
    PERSON_CHANGED,
    QUALIFICATION_CHANGED,
)
from kokunen_contracts.residency import PersonChangeKind
from kokunen_testing.counter_client import sign_in
from kokunen_testing.factories import JST, person_changed, qualification_acquired
from kokunen_testing.infra import load_localstack
from kokunen_testing.platform import consumed_everything, eventually, unique_atena

from .conftest import CounterWorld, counter_settings

pytestmark = pytest.mark.integration


async def test_my_number_stays_sealed_and_the_suspension_arrives_from_the_resident_record(
    counter_world: CounterWorld,
) -> None:
    conn = await counter_world.platform.connect_as("counter")
    try:
        row = await conn.fetchrow(
            "SELECT my_number_sealed, suspended FROM counter.person WHERE atena_number = $1", counter_world.citizen
        )
        suspended = await conn.fetchval(
            "SELECT suspended FROM counter.person WHERE atena_number = $1", counter_world.suspended
        )
    finally:
        await conn.close()
    assert row["my_number_sealed"]
    assert counter_world.citizen_my_number not in row["my_number_sealed"]
    vault = counter_world.platform.vault()
    assert vault.open(row["my_number_sealed"], counter_world.citizen).reveal() == counter_world.citizen_my_number
    assert row["suspended"] is False
    assert suspended is True


async def test_a_basic_pension_number_announced_before_the_person_still_finds_them(
    counter_world: CounterWorld,
) -> None:
    atena = unique_atena()
    number = f"{uuid.uuid4().int % 10**4:04d}-{uuid.uuid4().int % 10**6:06d}"
    qualification = qualification_acquired(atena, date(2010, 4, 1), AcquisitionReason.REACHED_20, number)
    # Eligibility's event first, the person after: topics are not ordered against each other.
    await counter_world.platform.publish(QUALIFICATION_CHANGED, [qualification])
    await counter_world.platform.publish(
        PERSON_CHANGED, [person_changed(atena, PersonChangeKind.REGISTERED, date(2010, 4, 1), birth=date(1990, 4, 1))]
    )

    async def found() -> list[dict[str, object]]:
        conn = await counter_world.platform.connect_as("counter")
        try:
            return await ReadModel(conn).search(parse_search("", "", "", number.replace("-", "")))
        finally:
            await conn.close()

    people = await eventually(found, timeout_s=60)
    assert [p["atena_number"] for p in people] == [atena]


def screened(atena: str, application: uuid.UUID, **values: object) -> e.ExemptionScreened:
    return e.ExemptionScreened.model_validate(
        {
            "event_id": uuid.uuid4(),
            "effective_date": date(2026, 12, 1),
            "recorded_at": datetime.now(JST),
            "application_id": application,
            "atena_number": atena,
            "kind": "exemption",
            "first_month": "2026-07",
            "last_month": "2027-06",
            **values,
        }
    )


async def test_eligibilitys_answers_to_applications_notifications_and_claims_are_kept_for_the_person_page(
    counter_world: CounterWorld,
) -> None:
    """The outcome topics the counter subscribes to: each event kept once (a redelivery changes nothing), a
    re-screening replaces the screening it names, JPS's decision is shown on the screening it decides, and the
    person page's reads return them."""
    atena, application = unique_atena(), uuid.uuid4()
    check = e.PersonScreening(tier="full_exemption", role="applicant", atena_number=atena, income_year=2025,
                              outcome="passed", income_used=500_000, limit=670_000,
                              rule="(1+1)×35万円+32万円", article="国民年金法90条1項1号")  # fmt: skip
    first = screened(atena, application, outcome="passed", decision="full_exemption", income_year=2025,
                     checks=[check], explanation=["全額免除に該当"])  # fmt: skip
    failed = check.model_copy(update={"outcome": e.PersonCheckOutcome.FAILED, "income_used": 2_000_000})
    redone = screened(atena, application, outcome="failed", income_year=2025, replaces_event_id=first.event_id,
                      checks=[failed])  # fmt: skip
    notified = e.ExemptionNotificationOutcome(
        event_id=uuid.uuid4(), effective_date=date(2026, 12, 1), recorded_at=datetime.now(JST),
        notification_id=uuid.uuid4(), atena_number=atena, kind="pre_postnatal_exemption", accepted=True,
        first_month="2027-01", last_month="2027-04", reason="出産予定日 2027-02-10", article="国民年金法88条の2",
    )  # fmt: skip
    refused_claim = e.BenefitClaimReceived(
        event_id=uuid.uuid4(), effective_date=date(2026, 12, 1), recorded_at=datetime.now(JST),
        claim_id=uuid.uuid4(), atena_number=atena, kind="survivors_basic", received=False,
        refusals=[e.ApplicationRefusalItem(reason="no_deceased", rule="国民年金法37条",
                                           message="亡くなった方の記載がありません")],
    )  # fmt: skip
    rejected = e.ExemptionDecided(
        event_id=uuid.uuid4(), effective_date=date(2027, 1, 20), recorded_at=datetime.now(JST),
        application_id=application, atena_number=atena, kind="exemption", jps_decision="rejected",
        first_month="2026-07", last_month="2027-06", decided_on=date(2027, 1, 20),
        explanation="日本年金機構が却下しました (処理結果一覧表)",
    )  # fmt: skip
    platform = counter_world.platform
    await platform.publish(EXEMPTION_SCREENED, [first, first, redone])  # the first one delivered twice
    await platform.publish(EXEMPTION_DECIDED, [rejected, rejected])
    await platform.publish(EXEMPTION_NOTIFICATION_OUTCOME, [notified])
    await platform.publish(BENEFIT_CLAIM_RECEIVED, [refused_claim])

    async def kept() -> tuple[list[dict[str, object]], list[dict[str, object]], int, int] | None:
        conn = await platform.connect_as("counter")
        try:
            model = ReadModel(conn)
            counts = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM counter.exemption_screening WHERE atena_number = $1),
                          (SELECT count(*) FROM counter.benefit_claim_received WHERE atena_number = $1)""",
                atena,
            )
            result = (await model.exemption_screenings(atena), await model.exemption_periods(atena), *counts)
        finally:
            await conn.close()
        decided = result[0] and result[0][0]["jps_decision"]
        return result if result[2] == 2 and result[3] == 1 and result[1] and decided else None

    screenings, periods, _, _ = await eventually(kept, timeout_s=60)
    assert [s["event_id"] for s in screenings] == [redone.event_id]  # the re-screening stands alone
    assert screenings[0]["outcome"] == "failed"
    assert screenings[0]["checks"][0]["income_used"] == 2_000_000
    assert screenings[0]["checks"][0]["article"] == "国民年金法90条1項1号"
    assert (screenings[0]["jps_decision"], screenings[0]["jps_tier"], screenings[0]["jps_decided_on"]) == (
        "rejected", None, date(2027, 1, 20))  # fmt: skip
    assert [(p["first_month"], p["last_month"], p["article"]) for p in periods] == [
        ("2027-01", "2027-04", "国民年金法88条の2")
    ]
    conn = await platform.connect_as("counter")
    try:
        claim = await conn.fetchrow("SELECT * FROM counter.benefit_claim_received WHERE atena_number = $1", atena)
        decisions = await conn.fetchval(
            "SELECT count(*) FROM counter.exemption_decision WHERE atena_number = $1", atena
        )
    finally:
        await conn.close()
    assert claim["received"] is False
    assert decisions == 1  # delivered twice, kept once
    assert "亡くなった方の記載がありません" in claim["refusals"]


def run_verifier(world: CounterWorld) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **world.platform.service_env("counter")}
    return subprocess.run(
        [sys.executable, "-m", "counter", "verify-access-log"], env=env, capture_output=True, text=True, check=False
    )


async def test_the_verifier_names_the_first_tampered_row(counter_world: CounterWorld) -> None:
    conn = await counter_world.platform.connect_as("counter")
    try:
        entry = {
            "logged_at": datetime.now(UTC),
            "staff_id": "verifier-test",
            "staff_name": "検証 太郎",
            "department": "情報システム課",
            "terminal": "127.0.0.1",
            "reason_code": "03",
            "reason_text": "検証用",
            "action": "view",
            "atena_number": counter_world.citizen,
            "query": None,
            "result_count": 1,
            "shown": {"persons": [{"宛名番号": counter_world.citizen, "氏名": "浦和 花子"}]},
            "my_number_shown": False,
        }
        async with conn.transaction():
            written = [await AccessLog(conn).append(entry) for _ in range(3)]
        count, breaks = await verify_access_log(conn)
        assert count >= 3
        assert breaks == []
    finally:
        await conn.close()
    intact = run_verifier(counter_world)
    assert intact.returncode == 0, intact.stderr
    assert "chain intact" in intact.stdout

    target = written[1]["seq"]
    admin = await counter_world.platform.admin()
    try:
        # A superuser can get past the trigger; the chain still tells.
        await admin.execute("SET session_replication_role = replica")
        await admin.execute("UPDATE counter.access_log SET reason_text = '改ざん' WHERE seq = $1", target)
        broken = run_verifier(counter_world)
        assert broken.returncode == 1
        assert f"access log broken at seq {target}:" in broken.stderr
        assert f"first broken row: seq {target}" in broken.stdout
    finally:
        await admin.execute("UPDATE counter.access_log SET reason_text = '検証用' WHERE seq = $1", target)
        await admin.execute("SET session_replication_role = DEFAULT")
        await admin.close()
    assert run_verifier(counter_world).returncode == 0


async def test_requests_append_to_the_access_log_side_by_side_and_the_lanes_verify(
    counter_world: CounterWorld,
) -> None:
    """A request holds its lane until it commits; another request meanwhile appends in another lane instead of
    waiting (one chain serialised every page: issue 9's benchmark)."""
    entry = {
        "logged_at": datetime.now(UTC),
        "staff_id": "lanes-test",
        "staff_name": "並行 太郎",
        "department": "情報システム課",
        "terminal": "127.0.0.1",
        "reason_code": "03",
        "reason_text": "並行書込みの確認",
        "action": "view",
        "atena_number": counter_world.citizen,
        "query": None,
        "result_count": 1,
        "shown": {"persons": []},
        "my_number_shown": False,
    }
    first = await counter_world.platform.connect_as("counter")
    second = await counter_world.platform.connect_as("counter")
    try:
        async with first.transaction():
            held = await AccessLog(first).append(entry)
            locks = await second.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", first.get_server_pid()
            )
            assert locks == 1  # its own lane only
            async with second.transaction():  # would wait for the first's commit if it needed the same lane
                other = await asyncio.wait_for(AccessLog(second).append(entry), timeout=60)
            assert other["lane"] != held["lane"]
        many = [await counter_world.platform.connect_as("counter") for _ in range(6)]
        try:

            async def appended(conn: asyncpg.Connection) -> None:
                for _ in range(5):
                    async with conn.transaction():
                        await AccessLog(conn).append(entry)

            await asyncio.gather(*(appended(c) for c in many))
        finally:
            for conn in many:
                await conn.close()
        count, breaks = await verify_access_log(first)
        assert breaks == []
        assert count >= 32
        lanes = await first.fetchval(
            "SELECT count(DISTINCT lane) FROM counter.access_log WHERE staff_id = 'lanes-test'"
        )
        assert lanes > 1
    finally:
        await first.close()
        await second.close()


SNAPSHOT = [
    """SELECT atena_number, household_number, name, name_kana, kana_key, sex, birth_date, address::text, is_resident,
              suspended, suspension_reason, change_kind, effective_date, last_event_id,
              recorded_at, my_number_sealed IS NOT NULL
       FROM counter.person ORDER BY atena_number""",
    "SELECT * FROM counter.qualification_event ORDER BY event_id",
    "SELECT event_id, atena_number, income_year, correction_seq, figures::text FROM counter.income ORDER BY event_id",
    "SELECT * FROM counter.filing_outcome ORDER BY event_id",
    "SELECT * FROM counter.additional_premium ORDER BY event_id",
    "SELECT * FROM counter.transfer_record ORDER BY event_id",
    "SELECT * FROM counter.reception ORDER BY receipt_id",
    "SELECT event_id, receipt_id, source, outcome, result, summary, detail::text FROM counter.decision ORDER BY 1",
    "SELECT event_id, application_id, outcome, checks::text, replaces_event_id FROM counter.exemption_screening "
    "ORDER BY event_id",
    "SELECT event_id, notification_id, accepted, first_month, last_month FROM counter.exemption_notification_outcome "
    "ORDER BY event_id",
    "SELECT event_id, claim_id, received, refusals::text FROM counter.benefit_claim_received ORDER BY event_id",
    "SELECT count(*) FROM counter.submission",
    "SELECT count(*) FROM counter.access_log",
]


async def test_a_replay_rebuilds_the_read_model_and_keeps_the_access_log(counter_world: CounterWorld) -> None:
    platform = counter_world.platform
    await eventually(lambda: consumed_everything(platform, counter_world.runtime), timeout_s=120)

    async def snapshot() -> list[list[tuple[object, ...]]]:
        conn = await platform.connect_as("counter")
        try:
            return [[tuple(r) for r in await conn.fetch(q)] for q in SNAPSHOT]
        finally:
            await conn.close()

    before = await snapshot()
    assert before[0]
    assert before[1]
    owner = counter_world.settings.migration_database_url
    assert owner is not None
    report = await replay(build(counter_world.settings), owner.get_secret_value())
    assert report.records > 0
    assert "access_log" not in report.tables_emptied
    after = await snapshot()
    for query, old, new in zip(SNAPSHOT, before, after, strict=True):
        differing = sorted(set(old) ^ set(new), key=str)[:6]
        assert new == old, f"rebuilt read model differs for: {query.split('FROM')[1].split()[0]}: {differing}"


async def _ended_sessions_are_refused_by_every_worker(
    world: CounterWorld, url: str, client: httpx.AsyncClient, reason: dict[str, str]
) -> None:
    """A session signed out through one worker, and one left idle past the timeout, are refused (401) on fresh
    connections — whichever worker takes them — and nothing more is logged."""
    idle = httpx.AsyncClient(timeout=60)
    try:
        idle_reason = {**reason, "csrf_token": await sign_in(idle, url, load_localstack().DEMO_STAFF[0])}
        conn = await world.platform.connect_as("counter")
        try:
            await conn.execute(  # the second session last used 16 minutes ago (the idle timeout is 15)
                "UPDATE counter.staff_session SET last_seen_at = now() - interval '16 minutes' WHERE csrf_token = $1",
                idle_reason["csrf_token"],
            )
        finally:
            await conn.close()
        kept = httpx.Cookies(client.cookies)  # the cookie as it was: signing out clears it in the browser
        signed_out = await client.post(f"{url}/logout", data={"csrf_token": reason["csrf_token"]})
        assert signed_out.status_code == 303
        for cookies, form, message in (
            (kept, reason, "サインアウト済み"),
            (idle.cookies, idle_reason, "操作がありません"),
        ):
            answers = []
            for _ in range(4):  # new connections: the kernel spreads them over the workers
                async with httpx.AsyncClient(timeout=60, cookies=cookies) as fresh:
                    answers.append(await fresh.post(f"{url}/search", data={**form, "atena_number": world.citizen}))
                    answers.append(await fresh.post(f"{url}/person", data={**form, "atena_number": world.citizen}))
            assert [a.status_code for a in answers] == [401] * 8
            assert not [a for a in answers if "浦和 花子" in a.text]
            assert message in answers[0].text  # an idle session is ended by the first request that finds it idle
    finally:
        await idle.aclose()
    conn = await world.platform.connect_as("counter")
    try:
        logged = await conn.fetchval(
            "SELECT count(*) FROM counter.access_log WHERE reason_text = $1", reason["reason_text"]
        )
    finally:
        await conn.close()
    assert logged == 8


def _page_workers_of(pid: int) -> list[int]:
    """The ``counter pages`` processes ``pid`` started (one that is exiting right now, as a killed worker is, is
    not one: reading its command line fails or finds it empty)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"pages" in _command_line(int(c))]


def _command_line(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


async def test_page_workers_share_the_port_log_every_read_and_end_with_the_service_process(
    counter_world: CounterWorld,
) -> None:
    """COUNTER_WEB_WORKERS=2: two ``counter pages`` processes on one port; a signed-in search and view through them
    write their log rows; a worker that dies is started again; stopping the supervisor ends both."""
    port = load_localstack().free_port()
    settings = counter_settings(  # plain http: httpx sends no Secure cookie there (browsers do, on 127.0.0.1)
        counter_world.platform, counter_world.oidc.issuer, port, counter_web_workers=2, counter_cookie_secure=False
    )
    url = settings.public_url
    stop = asyncio.Event()
    supervisor = asyncio.create_task(page_workers.supervise(settings, stop))

    async def serving(client: httpx.AsyncClient) -> bool:
        try:
            return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    try:
        async with httpx.AsyncClient(timeout=60) as client:
            await eventually(lambda: serving(client), timeout_s=120)
            workers = _page_workers_of(os.getpid())
            assert len(workers) == 2
            csrf = await sign_in(client, url, load_localstack().DEMO_STAFF[0])
            reason = {"csrf_token": csrf, "reason_code": "03", "reason_text": "ワーカーの確認"}
            for _ in range(4):  # new connections: the kernel spreads them over the workers
                async with httpx.AsyncClient(timeout=60, cookies=client.cookies) as fresh:
                    found = await fresh.post(f"{url}/search", data={**reason, "atena_number": counter_world.citizen})
                    page = await fresh.post(f"{url}/person", data={**reason, "atena_number": counter_world.citizen})
                assert (found.status_code, page.status_code) == (200, 200)
                assert "浦和 花子" in page.text
            conn = await counter_world.platform.connect_as("counter")
            try:
                logged = await conn.fetchval(
                    "SELECT count(*) FROM counter.access_log WHERE reason_text = 'ワーカーの確認'"
                )
                _, breaks = await verify_access_log(conn)
            finally:
                await conn.close()
            assert logged == 8
            assert breaks == []
            await _ended_sessions_are_refused_by_every_worker(counter_world, url, client, reason)

            os.kill(workers[0], signal.SIGKILL)

            async def replaced() -> bool:
                now = _page_workers_of(os.getpid())
                return len(now) == 2 and workers[0] not in now and await serving(client)

            await eventually(replaced, timeout_s=120)
    finally:
        stop.set()
        await supervisor
    assert _page_workers_of(os.getpid()) == []
