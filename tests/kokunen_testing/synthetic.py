"""A synthetic city for tests and benchmarks: realistic Japanese names (Faker ja_JP), addresses in
Saitama City's ten wards, valid My Numbers, households. Deterministic for a given seed, and fast:
names are drawn from pools built once, so a million residents take seconds, not minutes."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from faker import Faker
from kokunen_contracts.identifiers import my_number_check_digit


@dataclass(frozen=True)
class Ward:
    name: str
    code: str  # 全国地方公共団体コード
    postal_prefix: str
    towns: tuple[str, ...]


# Saitama City's ten wards (行政区).
WARDS = (
    Ward("西区", "111015", "331-00", ("指扇", "宝来", "島根", "三橋")),
    Ward("北区", "111023", "331-08", ("宮原町", "日進町", "東大成町", "奈良町")),
    Ward("大宮区", "111031", "330-08", ("桜木町", "大門町", "高鼻町", "吉敷町")),
    Ward("見沼区", "111040", "337-00", ("東大宮", "大和田町", "春野", "蓮沼")),
    Ward("中央区", "111058", "338-00", ("上落合", "下落合", "新都心", "本町東")),
    Ward("桜区", "111066", "338-08", ("田島", "西堀", "神田", "道場")),
    Ward("浦和区", "111074", "330-00", ("高砂", "常盤", "岸町", "仲町")),
    Ward("南区", "111082", "336-00", ("別所", "文蔵", "南浦和", "沼影")),
    Ward("緑区", "111091", "336-09", ("中尾", "原山", "東浦和", "美園")),
    Ward("岩槻区", "111104", "339-00", ("本町", "東町", "加倉", "太田")),
)


def my_number_from(serial: int) -> str:
    base = f"{serial % 10**11:011d}"
    return base + str(my_number_check_digit(base))


@dataclass(frozen=True)
class SyntheticResident:
    atena_number: str
    my_number: str
    household_number: str
    name: str
    kana: str
    birth_date: date
    sex: str
    relationship: str
    ward: Ward
    address: str
    postal_code: str


class SyntheticCity:
    def __init__(self, seed: int = 20261126, pool: int = 2000) -> None:
        faker = Faker("ja_JP")
        faker.seed_instance(seed)
        self.random = random.Random(seed)
        self.surnames = [faker.last_name_pair()[:2] for _ in range(pool)]
        self.male = [faker.first_name_male_pair()[:2] for _ in range(pool)]
        self.female = [faker.first_name_female_pair()[:2] for _ in range(pool)]

    def residents(self, count: int, *, first_atena: int = 1_000_000) -> Iterator[SyntheticResident]:
        """``count`` residents in households of one to five, ages spread from 0 to 95."""
        rnd = self.random
        today = date(2026, 11, 1)
        made = 0
        household = first_atena
        while made < count:
            household += 1
            surname, surname_kana = rnd.choice(self.surnames)
            ward = rnd.choice(WARDS)
            town = rnd.choice(ward.towns)
            block = f"{rnd.randint(1, 8)}丁目{rnd.randint(1, 30)}番{rnd.randint(1, 20)}号"
            address = f"埼玉県さいたま市{ward.name}{town}{block}"
            postal = f"{ward.postal_prefix}{rnd.randint(10, 99)}"
            for position in range(min(rnd.randint(1, 5), count - made)):
                female = rnd.random() < 0.51
                given, given_kana = rnd.choice(self.female if female else self.male)
                atena = first_atena + made
                age_days = rnd.randint(0, 95 * 365)
                made += 1
                yield SyntheticResident(
                    atena_number=f"{atena:010d}",
                    my_number=my_number_from(atena * 7919 + 13),
                    household_number=f"{household:010d}",
                    name=f"{surname} {given}",
                    kana=f"{surname_kana} {given_kana}",
                    birth_date=today - timedelta(days=age_days),
                    sex="female" if female else "male",
                    relationship="世帯主" if position == 0 else rnd.choice(("妻", "夫", "子", "母", "父")),
                    ward=ward,
                    address=address,
                    postal_code=postal,
                )


def extract_line(r: SyntheticResident, *, processed_on: date = date(2026, 11, 1), **changes: str) -> list[str]:
    """A line of a 連携基盤 extract (residency_sync's legacy file layout) for a synthetic resident; a full
    extract leaves the change columns empty, a differential one fills them through ``changes``."""
    from residency_sync.adapters.legacy_file import COLUMNS

    values = {
        "処理日": processed_on.isoformat(),
        "宛名番号": r.atena_number,
        "個人番号": r.my_number,
        "世帯番号": r.household_number,
        "氏名": r.name,
        "氏名カナ": r.kana,
        "生年月日": r.birth_date.strftime("%Y%m%d"),
        "性別": "女" if r.sex == "female" else "男",
        "続柄": r.relationship,
        "住民区分": "日本人住民",
        "住民となった事由": "出生",
        "住民となった年月日": r.birth_date.isoformat(),
        "現住所": r.address,
        "現住所郵便番号": r.postal_code,
        "現住所区": r.ward.name,
        "現住所団体コード": r.ward.code,
        "国籍": "JP",
        **changes,
    }
    return [values.get(column, "") for column in COLUMNS]


def write_extract(path: Path, lines: Iterable[list[str]], encoding: str = "utf-8") -> Path:
    """Write an extract (header line first) as CSV in ``encoding`` (utf-8 or cp932), CRLF as Windows writes."""
    from residency_sync.adapters.legacy_file import COLUMNS

    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(lines)
    return path
