"""`civic demo`: the Palm Coast demo -- staff, residents and a year of cases.

The catalog (departments, services) comes from the city config through
`civic init`; this module adds what a city would have after a year of use:

- demo staff for a few departments and a resident portal user, all with one
  password (``CIVIC_DEMO_PASSWORD``, else generated once and kept in
  ``<data dir>/demo-password``);
- resident and business accounts with utility account numbers;
- about a year of cases made through ``create_case`` (so numbering, routing,
  SLA and the timeline are the real ones), with a realistic mix of services,
  channels, priorities, Palm Coast addresses and statuses, and a hurricane in
  late September that brings a burst of storm cases tagged ``hurricane``.

Idempotent: users are found by username and accounts by utility account
number; every demo case carries the ``demo`` tag and cases are loaded only
when no case has it.  All cases go in one transaction, so an interrupted run
leaves nothing behind and the next run starts over.

Deterministic: one seeded random generator, dates counted back from today.

The status history is written as history (events with their past times, the
same transitions ``change_status`` allows); ``case_created`` fires for each
case after the commit, but the live status hooks do not fire for a year of
past changes (a notifier must not e-mail 3,000 residents about last spring).
"""
from __future__ import annotations

import gc
import math
import os
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from core.models import CLOSED_STATUSES, TRANSITIONS, Account, Case, CaseEvent, Department, DepartmentStint, ServiceType, Tag
from core.models.base import utcnow
from core.services.cases import Actor, create_case

DEMO_TAG = "demo"
STORM_TAG = "hurricane"
SEED = 311
PASSWORD_FILE = "demo-password"

# The city limits, roughly: every demo location falls inside this box.
LAT_RANGE = (29.47, 29.64)
LONG_RANGE = (-81.29, -81.12)


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: str
    departments: tuple[str, ...] = ()


STAFF = (
    DemoUser("dispatcher", "Dana", "Brooks", "Dispatcher"),
    DemoUser("pw_staff", "Marcus", "Hill", "Department staff", ("PW",)),
    DemoUser("pw_supervisor", "Gloria", "Reyes", "Supervisor", ("PW",)),
    DemoUser("pw_crew", "Luis", "Ortega", "Field crew", ("PW",)),
    DemoUser("pw_crew2", "Tom", "Becker", "Field crew", ("PW",)),
    DemoUser("sw_staff", "Keisha", "Grant", "Department staff", ("SW",)),
    DemoUser("util_staff", "Priya", "Nair", "Department staff", ("UTIL",)),
    DemoUser("util_crew", "Ray", "Dawson", "Field crew", ("UTIL",)),
    DemoUser("ub_staff", "Helen", "Park", "Department staff", ("UB",)),
    DemoUser("ce_staff", "Janet", "Moore", "Department staff", ("CE",)),
    DemoUser("env_staff", "Omar", "Haddad", "Department staff", ("ENV",)),
    DemoUser("parks_staff", "Claire", "Dubois", "Department staff", ("PARKS",)),
)
RESIDENT_USER = DemoUser("resident", "Maria", "Lopez", "Resident")

FIRST_NAMES = (
    "Maria", "James", "Linda", "Robert", "Patricia", "Michael", "Barbara", "William", "Susan", "David",
    "Karen", "Joseph", "Nancy", "Thomas", "Lisa", "Charles", "Sandra", "Daniel", "Donna", "Paul",
    "Carol", "Mark", "Ruth", "George", "Sharon", "Kevin", "Michelle", "Brian", "Laura", "Edward",
)
LAST_NAMES = (
    "Lopez", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker",
)
BUSINESSES = ("Palm Coast Auto Repair", "Matanzas Landscaping LLC", "Town Center Bakery", "Intracoastal Marine Supply")
RESIDENT_ACCOUNTS = 40


@dataclass(frozen=True)
class Neighbourhood:
    name: str
    lat: float
    long: float
    zone: str
    zipcode: str
    streets: tuple[str, ...]
    weight: float = 1.0


# Palm Coast's sections name their streets by letter; the parkways cross them.
NEIGHBOURHOODS = (
    Neighbourhood("Matanzas Woods", 29.624, -81.236, "north", "32137", ("Matanzas Woods Pkwy", "Monterey Ln", "Mulberry Ln", "Marlin Dr")),
    Neighbourhood("P-section", 29.603, -81.252, "north", "32137", ("Pine Lakes Pkwy", "Pritchard Dr", "Pine Grove Dr", "Perkins Ln", "Pheasant Dr", "Point Pleasant Dr")),
    Neighbourhood("Grand Haven", 29.607, -81.151, "east", "32137", ("Grand Haven Pkwy", "Waterside Pkwy", "Riverview Bend"), 0.5),
    Neighbourhood("Palm Harbor", 29.591, -81.173, "east", "32137", ("Palm Harbor Pkwy", "Club House Dr", "Clinton Ln", "Cooper Ln")),
    Neighbourhood("F-section", 29.576, -81.190, "east", "32137", ("Florida Park Dr", "Fleetwood Dr", "Forest Grove Dr", "Frontier Dr", "Old Kings Rd")),
    Neighbourhood("C-section", 29.561, -81.201, "central", "32137", ("Palm Coast Pkwy", "Cimmaron Dr", "Cottonwood Ln", "Cochise Ct", "Colechester Ln")),
    Neighbourhood("Town Center", 29.553, -81.218, "central", "32164", ("Town Center Blvd", "Central Ave", "Bulldog Dr"), 0.4),
    Neighbourhood("E-section", 29.566, -81.236, "central", "32137", ("Easthampton Blvd", "Emerson Dr", "Eastwood Dr", "Egret Ln")),
    Neighbourhood("B-section", 29.536, -81.226, "south", "32164", ("Belle Terre Pkwy", "Bird of Paradise Dr", "Buttonwood Ln", "Burroughs Dr", "Blaine Dr")),
    Neighbourhood("W-section", 29.551, -81.266, "west", "32164", ("Whiteview Pkwy", "Westfield Ln", "Wellstone Dr", "Woodbury Dr", "Royal Palms Pkwy")),
    Neighbourhood("R-section", 29.521, -81.262, "west", "32164", ("Rymfire Dr", "Ravenwood Dr", "Reddick Ln", "Rolling Sands Dr")),
    Neighbourhood("Z-section", 29.525, -81.238, "south", "32164", ("Zebra Ln", "Zinnia Ln", "Zeppelin Ln", "Citation Blvd")),
    Neighbourhood("L-section", 29.503, -81.205, "south", "32164", ("London Dr", "Lamson Ln", "Laredo Ln", "Lancelot Dr", "Colbert Ln")),
    Neighbourhood("S-section", 29.492, -81.241, "south", "32164", ("Seminole Woods Blvd", "Sedgwick Ln", "Slumber Ln", "Sandpiper Ln")),
)

# How often each service is reported (relative); services not listed weigh 1.
SERVICE_WEIGHTS = {
    "POTHOLE": 12, "TRASH_MISSED": 11, "CODE_GRASS": 8, "CODE_JUNK": 6, "STREETLIGHT": 6, "BILL_QUESTION": 6,
    "SWALE": 5, "BULK": 5, "WATER_LEAK": 4, "CODE_NOISE": 3, "ILLEGAL_DUMP": 3, "TREE_TRIM": 3, "ANIMAL_STRAY": 3,
    "DRAIN": 3, "SIGN": 3, "SIDEWALK": 3, "START_STOP": 3, "GENERAL": 2, "ROAD_DEBRIS": 2, "METER": 2,
    "LOW_PRESSURE": 2, "PARK_MAINT": 2, "ANIMAL_DEAD": 2, "WATER_QUALITY": 1.5, "SEWER_BACKUP": 1.5,
    "ANIMAL_WILDLIFE": 1.5, "CODE_SIGN": 1.5, "TREE_DOWN": 1.5, "PERMIT_QUESTION": 1.5, "TRAFFIC_SIGNAL": 1,
    "ZONING": 1, "PUBLIC_RECORDS": 1, "CANAL": 1, "TRAIL": 1, "FIRE_HYDRANT": 0.7, "FACILITY": 0.7,
    "SMOKE_ALARM": 0.5, "WEBSITE": 0.5, "LIFT_STATION": 0.3, "BUILDING_UNSAFE": 0.3,
    # Storm services only come with the storm.
    "STORM_DEBRIS": 0, "STORM_FLOOD": 0, "STORM_DAMAGE": 0,
}
# The storm week: share of storm cases per service, and their spread over the days from landfall (-1 .. +9).
STORM_SERVICES = {
    "STORM_DEBRIS": (45, (0, 1, 4, 8, 10, 10, 9, 8, 7, 6, 5)),
    "TREE_DOWN": (25, (2, 10, 8, 4, 2, 1, 1, 0.5, 0.5, 0.3, 0.3)),
    "STORM_FLOOD": (18, (3, 10, 6, 3, 1, 0.5, 0.3, 0.2, 0.1, 0.1, 0.1)),
    "STORM_DAMAGE": (12, (1, 8, 8, 5, 3, 2, 1, 1, 0.5, 0.5, 0.5)),
}
STORM_SHARE = 0.08
CHANNEL_WEIGHTS = {"web": 45, "phone": 20, "email": 15, "open311": 15, "walk_in": 2.5, "field": 2.5}
STORM_CHANNEL_WEIGHTS = {"web": 35, "phone": 35, "email": 10, "open311": 12, "walk_in": 2, "field": 6}
OPEN311_CLIENTS = ("open311:SeeClickFix", "open311:FixMyStreet", "open311:PalmCoastConnect app")
NO_LOCATION = {"WEBSITE", "PUBLIC_RECORDS", "GENERAL", "PERMIT_QUESTION", "SMOKE_ALARM"}
# Local hours at which people report things (0-23).
HOUR_WEIGHTS = (0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1, 2, 4, 5, 5, 5, 4, 4, 5, 5, 4, 3, 3, 2.5, 2, 1.5, 1, 0.5)
NUMBER_RANGES = {"DEPTH": (2, 18), "PILE_SIZE": (2, 40)}

DESCRIPTIONS = {
    "POTHOLE": ("Deep pothole in the travel lane, cars swerving around it.", "Pothole near the curb, getting bigger after the rain.", "Several potholes in a row, one is quite deep."),
    "TRASH_MISSED": ("Garbage was not picked up on our regular day.", "Recycling cart skipped again this week.", "The whole street was missed today."),
    "CODE_GRASS": ("Vacant lot with grass over two feet tall.", "House looks abandoned, yard completely overgrown.", "Weeds and grass taking over the swale and sidewalk."),
    "CODE_JUNK": ("Car on blocks in the driveway for months.", "Pile of junk and old furniture in the front yard.", "Boat trailer and scrap metal stored on the lawn."),
    "STREETLIGHT": ("Streetlight out, the corner is very dark at night.", "Light keeps flickering on and off.", "Two lights out in a row on this block."),
    "BILL_QUESTION": ("My bill doubled this month, no change in use.", "Charged a late fee although I paid on time.", "Question about the stormwater fee on my bill."),
    "SWALE": ("Standing water in the swale for a week, mosquitoes.", "Ditch in front of the house never drains.", "Swale full of water and smells."),
    "BULK": ("Please pick up an old couch and a mattress.", "Old washer and dryer at the curb.", "Broken furniture for bulk pickup."),
    "WATER_LEAK": ("Water bubbling up from the street.", "Leak at the meter box, running all day.", "Water running down the gutter, no rain today."),
    "CODE_NOISE": ("Loud music every night past midnight.", "Dogs barking for hours every day.", "Construction noise before 7 am."),
    "ILLEGAL_DUMP": ("Someone dumped tires and trash on the vacant lot.", "Construction debris dumped by the canal.", "Mattresses dumped at the end of the street."),
    "TREE_TRIM": ("City tree branches hanging over the sidewalk.", "Oak branches touching the streetlight.", "Tree blocking the view of the stop sign."),
    "TREE_DOWN": ("Large limb down across the road.", "Tree fell on the sidewalk.", "Tree leaning on the power line over the street."),
    "ANIMAL_STRAY": ("Loose dog running in the street.", "Stray cat colony behind the houses.", "Friendly dog without a collar, seems lost."),
    "DRAIN": ("Storm drain blocked with leaves.", "Culvert under the driveway is clogged.", "Drain grate covered with sand and debris."),
    "SIGN": ("Stop sign knocked down.", "Street name sign missing at the corner.", "Speed limit sign bent and facing the wrong way."),
    "SIDEWALK": ("Sidewalk slab lifted by tree roots, trip hazard.", "Cracked and broken sidewalk near the school bus stop.", "Missing piece of sidewalk."),
    "START_STOP": ("Moving in next month, please start water service.", "Selling the house, please stop service.", "Transfer service to the new owner."),
    "WATER_QUALITY": ("Tap water is brown this morning.", "Water smells like chlorine.", "Cloudy water from all faucets."),
    "SEWER_BACKUP": ("Sewer backing up into the yard.", "Strong sewer smell on the street.", "Manhole overflowing."),
    "STORM_DEBRIS": ("Storm debris at the curb after the hurricane: branches and yard waste.", "Large pile of downed limbs from the hurricane at the curb.", "Fence boards and debris from the storm, ready for pickup."),
    "STORM_FLOOD": ("Street flooded after the hurricane, water up to the driveways.", "Water entering the garage, swale overflowing.", "Road impassable, water over the curb."),
    "STORM_DAMAGE": ("Hurricane winds knocked down the fence at the park.", "Roof damage at the community center after the storm.", "Traffic sign and pole blown down by the storm."),
}
STORM_TREE_DESCRIPTIONS = ("Tree down across the road after the hurricane.", "Tree on the power line after the storm.", "Huge oak uprooted by the hurricane, blocking the street.")
RESOLUTION_NOTES = {
    "Roads and sidewalks": "Repaired by the streets crew.",
    "Drainage": "Cleared and draining again.",
    "Trees": "Tree cut and removed.",
    "Code enforcement": "Inspected; the owner was notified and brought the property into compliance.",
    "Utility billing": "Account reviewed and answered by Utility Billing.",
    "Water": "Repaired by the utilities crew.",
    "Sewer": "Line cleared and the area disinfected.",
    "Parks": "Fixed by the parks crew.",
    "Animal control": "Handled by Animal Control.",
    "Solid waste": "Collected.",
    "Storm": "Storm debris collected; thank you for your patience after the hurricane.",
}


@dataclass
class DemoReport:
    """What `civic demo` did, ready to print."""

    staff: list[str] = field(default_factory=list)
    staff_created: int = 0
    accounts: int = 0
    accounts_created: int = 0
    cases_created: int = 0
    cases_existing: int = 0
    open_cases: int = 0
    hurricane_cases: int = 0
    reports_created: int = 0
    seconds: float = 0.0
    password: str | None = None

    def lines(self) -> list[str]:
        """The report, in the language of the current locale (the CLI sets it)."""
        out = [
            gettext("demo staff: %(names)s (%(new)d new); resident portal user: %(resident)s",
                    names=", ".join(self.staff), new=self.staff_created, resident=RESIDENT_USER.username),
            gettext("demo accounts: %(count)d residents and businesses (%(new)d new)", count=self.accounts, new=self.accounts_created),
        ]
        if self.cases_created:
            out.append(gettext(
                "demo cases: %(count)d created in %(seconds).1f s (%(closed)d closed or resolved, %(open)d open, %(storm)d tagged %(tag)s)",
                count=self.cases_created, seconds=self.seconds, closed=self.cases_created - self.open_cases,
                open=self.open_cases, storm=self.hurricane_cases, tag=STORM_TAG,
            ))
        else:
            out.append(gettext("demo cases: already loaded (%(count)d cases tagged %(tag)s); nothing added", count=self.cases_existing, tag=DEMO_TAG))
        out.append(gettext("demo reports: %(new)d sample reports saved (Reports menu)", new=self.reports_created))
        if self.password:
            out.append(gettext("demo password (every demo user): %(password)s", password=self.password))
        else:
            out.append(gettext("demo password: unchanged since the demo users were created"))
        return out


# -- users and accounts -------------------------------------------------------


def _password(directory: Path) -> str:
    """CIVIC_DEMO_PASSWORD, else the one generated on the first run (kept in <data dir>/demo-password)."""
    given = os.environ.get("CIVIC_DEMO_PASSWORD")
    if given:
        from core.config import ConfigError
        from core.security import password_problem

        problem = password_problem(given)
        if problem:
            raise ConfigError([f"CIVIC_DEMO_PASSWORD: {problem}"])
        return given
    saved = directory / PASSWORD_FILE
    if saved.exists():
        return saved.read_text().strip()
    password = secrets.token_urlsafe(9)
    saved.write_text(password)
    saved.chmod(0o600)
    return password


def login_hint(directory: Path) -> str | None:
    """``demo logins: dispatcher, pw_staff, ... / PASSWORD`` while the demo users still have that password."""
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=STAFF[0].username)
    if user is None:
        return None
    password = os.environ.get("CIVIC_DEMO_PASSWORD")
    if not password and (directory / PASSWORD_FILE).exists():
        password = (directory / PASSWORD_FILE).read_text().strip()
    if not password or not check_password_hash(user.password, password):
        return None
    names = ", ".join(u.username for u in (*STAFF, RESIDENT_USER))
    return gettext("demo logins: %(names)s / %(password)s", names=names, password=password)


def ensure_staff(session: Session, password: str, report: DemoReport) -> dict[str, Any]:
    """The demo staff and the resident portal user, attached to their departments."""
    from core.services.users import create_user

    sm = current_app.appbuilder.sm
    depts = {d.code: d for d in session.scalars(select(Department))}
    users = {}
    for person in (*STAFF, RESIDENT_USER):
        existed = sm.find_user(username=person.username) is not None
        users[person.username] = create_user(
            person.username,
            password,
            person.role,
            person.first_name,
            person.last_name,
            f"{person.username}@demo.palmcoast.example.gov",
            departments=[depts[c] for c in person.departments if c in depts],
        )
        report.staff_created += not existed
    report.staff = [u.username for u in STAFF]
    return users


def ensure_accounts(session: Session, resident_user, report: DemoReport) -> list[Account]:
    """Residents and businesses with utility account numbers (upserted by that number)."""
    wanted = []
    for i in range(RESIDENT_ACCOUNTS):
        first, last = FIRST_NAMES[i % len(FIRST_NAMES)], LAST_NAMES[(i * 7) % len(LAST_NAMES)]
        wanted.append(
            dict(
                name=f"{first} {last}",
                kind="resident",
                email=f"{first}.{last}{i}@example.com".lower(),
                phone=f"386-555-{1000 + i * 37:04d}",
                preferred_language="fr" if i % 9 == 4 else "en",
                utility_account_number=f"{1040000 + i * 137:07d}-01",
                contact_by_email=i % 5 != 0,
                preferences={"topics": ["storm-alerts"] + (["debris"] if i % 2 else []) + (["water"] if i % 3 == 0 else [])},
            )
        )
    for j, name in enumerate(BUSINESSES):
        wanted.append(
            dict(
                name=name,
                kind="business",
                email=f"office{j}@business.example.com",
                phone=f"386-555-{8000 + j * 11:04d}",
                preferred_language="en",
                utility_account_number=f"{2090000 + j * 211:07d}-02",
                contact_by_email=True,
                preferences={"topics": ["storm-alerts"]},
            )
        )
    numbers = [w["utility_account_number"] for w in wanted]
    found = {a.utility_account_number: a for a in session.scalars(select(Account).where(Account.utility_account_number.in_(numbers)))}
    accounts = []
    for values in wanted:
        account = found.get(values["utility_account_number"])
        if account is None:
            account = Account(**values)
            session.add(account)
            report.accounts_created += 1
        accounts.append(account)
    # The resident portal user is Maria Lopez, the first account.
    if accounts[0].user_id is None and resident_user is not None:
        accounts[0].user_id = resident_user.id
    session.commit()
    report.accounts = len(accounts)
    return accounts


# -- the case plan ------------------------------------------------------------


@dataclass
class PlannedCase:
    created_at: datetime
    service: ServiceType
    storm: bool = False


def _weighted(rng: random.Random, weights: dict[Any, float]):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def storm_landfall(today: date) -> date:
    """Late September: the latest 26 September at least ten days ago."""
    landfall = date(today.year, 9, 26)
    return landfall if landfall + timedelta(days=10) <= today else date(today.year - 1, 9, 26)


def _at_local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def plan_cases(rng: random.Random, count: int, services: dict[str, ServiceType], now: datetime, tz: ZoneInfo) -> list[PlannedCase]:
    """When and what: ``count`` cases over the past year, a storm week included, oldest first."""
    today = now.replace(tzinfo=timezone.utc).astimezone(tz).date()
    landfall = storm_landfall(today)
    first_day = min(today - timedelta(days=364), landfall - timedelta(days=2))
    days = [first_day + timedelta(days=i) for i in range((today - first_day).days + 1)]
    # Fewer reports at weekends, more in the rainy season (June to October), and more each month
    # as residents discover the service.
    day_weights = [
        (0.55 if d.weekday() >= 5 else 1.0) * (1.2 if 6 <= d.month <= 10 else 1.0) * (0.7 + 0.6 * i / len(days))
        for i, d in enumerate(days)
    ]
    regular = {code: SERVICE_WEIGHTS.get(code, 1) for code in sorted(services)}  # sorted: same draws on every database
    regular = {code: w for code, w in regular.items() if w > 0} or {code: 1 for code in services}
    storm_services = {code: share for code, (share, _) in STORM_SERVICES.items() if code in services}
    storm_count = round(count * STORM_SHARE) if storm_services else 0

    plans: list[PlannedCase] = []
    for _ in range(count - storm_count):
        day = rng.choices(days, weights=day_weights)[0]
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        plans.append(PlannedCase(_at_local(day, hour, rng.randrange(60), tz), services[_weighted(rng, regular)]))
    for _ in range(storm_count):
        code = _weighted(rng, storm_services)
        offset = rng.choices(range(-1, 10), weights=STORM_SERVICES[code][1])[0]
        hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        day = landfall + timedelta(days=offset)
        plans.append(PlannedCase(_at_local(day, hour, rng.randrange(60), tz), services[code], storm=True))
    # Today's cases happen before now: squeeze the day into the part of it that has passed.
    midnight = _at_local(today, 0, 0, tz)
    for p in plans:
        if p.created_at > now:
            p.created_at = midnight + (p.created_at - midnight) * ((now - midnight) / timedelta(days=1))
    plans.sort(key=lambda p: p.created_at)
    return plans


# -- one case -----------------------------------------------------------------


def _location(rng: random.Random) -> dict[str, Any]:
    hood = rng.choices(NEIGHBOURHOODS, weights=[n.weight for n in NEIGHBOURHOODS])[0]
    street = rng.choice(hood.streets)
    major = street.endswith(("Pkwy", "Blvd", "Rd"))
    number = rng.randint(100, 5999) if major else rng.randint(1, 120)
    lat = min(max(rng.gauss(hood.lat, 0.007), LAT_RANGE[0] + 0.002), LAT_RANGE[1] - 0.002)
    long = min(max(rng.gauss(hood.long, 0.008), LONG_RANGE[0] + 0.002), LONG_RANGE[1] - 0.002)
    return {"address": f"{number} {street}", "zipcode": hood.zipcode, "lat": round(lat, 6), "long": round(long, 6), "zone": hood.zone}


def _attribute_value(rng: random.Random, definition: dict[str, Any], account: Account | None, created: datetime) -> Any:
    code, datatype = definition["code"], definition["datatype"]
    keys = [v["key"] for v in definition.get("values", [])]
    if datatype == "singlevaluelist":
        return rng.choice(keys)
    if datatype == "multivaluelist":
        return rng.sample(keys, k=1 if rng.random() < 0.75 or len(keys) < 2 else 2)
    if datatype == "number":
        low, high = NUMBER_RANGES.get(code, (1, 20))
        return round(rng.uniform(low, high), 1)
    if datatype == "datetime":
        return (created + timedelta(days=rng.randint(2, 14))).replace(hour=9, minute=0, second=0, microsecond=0).isoformat()
    if code == "ACCOUNT":
        return account.utility_account_number if account else f"{rng.randint(1000000, 1999999)}-01"
    if code == "POLE":
        return f"FPL-{rng.randint(10000, 99999)}"
    return None


def _attributes(rng: random.Random, service: ServiceType, account: Account | None, created: datetime) -> dict[str, Any]:
    out = {}
    for definition in service.attributes or []:
        if not definition.get("variable", True) or (not definition.get("required") and rng.random() < 0.5):
            continue
        value = _attribute_value(rng, definition, account, created)
        if value is not None:
            out[definition["code"]] = value
    return out


def _description(rng: random.Random, plan: PlannedCase) -> str:
    if plan.storm and plan.service.code == "TREE_DOWN":
        return rng.choice(STORM_TREE_DESCRIPTIONS)
    texts = DESCRIPTIONS.get(plan.service.code)
    return rng.choice(texts) if texts else f"{plan.service.name}: please have a look."


def _priority(rng: random.Random, plan: PlannedCase) -> str:
    if plan.storm or (plan.service.sla_hours or 999) <= 8:
        return _weighted(rng, {"normal": 40, "high": 40, "urgent": 20})
    return _weighted(rng, {"low": 10, "normal": 68, "high": 17, "urgent": 5})


def _contact(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    contact = {"contact_name": f"{first} {last}", "contact_phone": f"386-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"}
    if rng.random() < 0.5:
        contact["contact_email"] = f"{first}.{last}{rng.randint(1, 99)}@example.com".lower()
    return contact


def _lifecycle(rng: random.Random, plan: PlannedCase) -> list[tuple[float, str]]:
    """(hours after creation, new status) for the case's whole life, whether or not it has happened yet."""
    sla = plan.service.sla_hours or 120
    slow = 3 if plan.service.group == "Code enforcement" else 1.8 if plan.storm else 1  # compliance deadlines, storm backlog
    ack = rng.uniform(0.2, 6)
    done = max(ack + 1, sla * slow * rng.lognormvariate(math.log(1.1), 0.9))
    roll = rng.random()
    if roll < 0.03:
        return [(ack, "duplicate")]
    if roll > 0.96:  # the backlog: waits for a budget, a contractor or a court date
        done = max(done, rng.uniform(20, 150) * 24)
    steps = [(ack, "acknowledged")]
    start = ack + (done - ack) * rng.uniform(0.1, 0.5)
    steps.append((start, "in_progress"))
    if roll < 0.06:  # nothing to do after all (no violation found, already fixed ...)
        return steps + [(done, "closed")]
    if roll < 0.13:  # waiting on a part, a contractor or the resident; some wait for months
        hold = start + (done - start) * 0.3
        done = hold + (done - hold) * (rng.uniform(2, 6) if roll < 0.10 else rng.uniform(10, 40))
        steps += [(hold, "on_hold"), (hold + (done - hold) * 0.8, "in_progress")]
    steps.append((done, "resolved"))
    if 0.945 < roll <= 0.96:  # the fix did not hold
        again = done + rng.uniform(24, 96)
        done = again + rng.uniform(8, 72)
        steps += [(again, "reopened"), (again + 1, "in_progress"), (done, "resolved")]
    if rng.random() < 0.8:
        steps.append((done + rng.uniform(48, 240), "closed"))
    return steps


def _apply_history(rng: random.Random, case: Case, plan: PlannedCase, people: dict[str, list], now: datetime, recent: dict[str, Case]) -> list[dict[str, Any]]:
    """Walk the case through its life up to now: status, assignee, closed_at, updated_at; returns its events."""
    dispatcher = people["dispatcher"][0]
    team = people.get(case.department.code, [])
    assignee = rng.choice(team) if team and rng.random() < 0.7 else None
    worker = assignee or (team[0] if team else dispatcher)
    events = []

    def event(kind, at, actor, public=False, body="", **data):
        events.append(
            dict(case=case, kind=kind, created_at=at, public=public, body=body, data=data,
                 actor_id=actor.id if actor else None, actor_label=actor.username if actor else "system")
        )

    updated = case.created_at
    for hours, status in _lifecycle(rng, plan):
        at = case.created_at + timedelta(hours=hours)
        if at > now:
            break
        if status not in TRANSITIONS[case.status]:
            raise AssertionError(f"demo history: {case.status} -> {status} is not a workflow transition")
        actor, note = worker, ""
        if status == "acknowledged":
            actor = dispatcher
        elif status == "duplicate":
            earlier = recent.get(plan.service.code)
            case.duplicate_of = earlier
            actor, note = dispatcher, f"Already reported as {earlier.reference}." if earlier else "Already reported."
        elif status == "resolved":
            note = RESOLUTION_NOTES.get(plan.service.group, "Done.")
        elif status == "closed" and case.status == "resolved":
            actor = None  # closed automatically some days after resolution
        elif status == "closed":
            note = "Inspected: nothing for the city to do here."
        elif status == "reopened":
            note = "Reopened: the problem came back."
        event("status_changed", at, actor, public=True, body=note, old=case.status, new=status)
        updated = at
        if status == "acknowledged" and assignee is not None:
            updated = min(at + timedelta(minutes=5), now)
            event("assigned", updated, dispatcher, old=None, new=assignee.username)
            case.assignee = assignee
        if case.status == "new" and case.acknowledged_at is None:
            case.acknowledged_at = at
        if status == "reopened":
            case.reopen_count = (case.reopen_count or 0) + 1
        case.status = status
        case.closed_at = at if status in CLOSED_STATUSES else None
    case.updated_at = updated
    if case.status in CLOSED_STATUSES:  # its tasks (config templates) were done by then
        for task in case.tasks:
            task.status, task.completed_at, task.updated_at = "done", case.closed_at, case.closed_at
    recent[plan.service.code] = case
    return events


def _channel_actor(rng: random.Random, channel: str, people: dict[str, list], department: str) -> Actor:
    if channel in ("phone", "walk_in"):
        user = people["dispatcher"][0]
        return Actor(user.id, user.username)
    if channel == "field":
        crew = people.get(department) or people.get("PW") or people["dispatcher"]
        user = crew[-1]
        return Actor(user.id, user.username)
    if channel == "open311":
        return Actor(label=rng.choice(OPEN311_CLIENTS))
    return Actor(label=channel)


def load_cases(session: Session, count: int, people: dict[str, list], accounts: list[Account], report: DemoReport, now: datetime | None = None, seed: int = SEED) -> None:
    """Create ``count`` demo cases through create_case in one transaction, then announce them."""
    now = now or utcnow()
    rng = random.Random(seed)
    config = current_app.extensions["civic"].config
    tz = ZoneInfo(config.city["timezone"])
    services = {s.code: s for s in session.scalars(select(ServiceType).where(ServiceType.active.is_(True)).order_by(ServiceType.code))}
    if not services:
        raise RuntimeError("the service catalog is empty: run `civic init` (or `civic config sync`) first")
    recent: dict[str, Case] = {}
    history: list[dict[str, Any]] = []
    created = 0
    for plan in plan_cases(rng, count, services, now, tz):
        account = rng.choice(accounts) if accounts and rng.random() < 0.35 else None
        channel = _weighted(rng, STORM_CHANNEL_WEIGHTS if plan.storm else CHANNEL_WEIGHTS)
        anonymous = channel == "open311" and rng.random() < 0.5  # many app reports come without a name
        contact = {} if account or anonymous else _contact(rng)
        location = {} if plan.service.code in NO_LOCATION else _location(rng)
        case = create_case(
            session,
            service_code=plan.service.code,
            description=_description(rng, plan),
            channel=channel,
            priority=_priority(rng, plan),
            attributes=_attributes(rng, plan.service, account, plan.created_at),
            account=account,
            tags=[DEMO_TAG, STORM_TAG] if plan.storm else [DEMO_TAG],
            actor=_channel_actor(rng, channel, people, plan.service.department.code),
            created_at=plan.created_at,
            commit=False,
            **location,
            **contact,
        )
        history.extend(_apply_history(rng, case, plan, people, now, recent))
        created += 1
        report.open_cases += case.status not in CLOSED_STATUSES
        report.hurricane_cases += plan.storm
        if created % 200 == 0:
            _write_history(session, history)
    _write_history(session, history)
    session.commit()
    report.cases_created = created
    _announce(session)


def _write_history(session: Session, history: list[dict[str, Any]]) -> None:
    """Insert the status and assignment events of the cases made so far (one statement), then let them go.

    Holding no flushed cases keeps the session small: every flush walks its objects.
    """
    session.flush()
    if history:
        _write_stints(session, history)
        session.execute(insert(CaseEvent.__table__), [{**row, "case_id": row.pop("case").id} for row in history])
    history.clear()
    gc.collect()


def _write_stints(session: Session, history: list[dict[str, Any]]) -> None:
    """The department stints the status history implies (core.services.handoffs): create_case opened one
    per case; the first closure ends it (one executemany UPDATE), each reopening adds one (one INSERT)."""
    first_ends: dict[int, datetime] = {}
    reopened: list[dict[str, Any]] = []
    current: dict[int, dict[str, Any]] = {}
    for row in history:
        if row["kind"] != "status_changed":
            continue
        case, old, new = row["case"], row["data"]["old"], row["data"]["new"]
        if new in CLOSED_STATUSES and old not in CLOSED_STATUSES:
            if case.id in current:
                current.pop(case.id)["ended_at"] = row["created_at"]
            else:
                first_ends.setdefault(case.id, row["created_at"])
        elif old in CLOSED_STATUSES and new not in CLOSED_STATUSES:
            current[case.id] = {"case_id": case.id, "department_id": case.department_id, "started_at": row["created_at"],
                                "ended_at": None, "reason": ""}
            reopened.append(current[case.id])
    table = DepartmentStint.__table__
    if first_ends:
        ending = update(table).where(table.c.case_id == bindparam("stint_case"), table.c.ended_at.is_(None)).values(ended_at=bindparam("stint_end"))
        session.execute(ending, [{"stint_case": k, "stint_end": v} for k, v in first_ends.items()])
    if reopened:
        session.execute(insert(table), reopened)


def _announce(session: Session, chunk: int = 250) -> None:
    """``case_created`` for every demo case, after the commit, as create_case does for one."""
    pm = current_app.extensions["civic"].pm
    ids = list(session.scalars(select(Case.id).join(Case.tags).where(Tag.name == DEMO_TAG).order_by(Case.id)))
    for start in range(0, len(ids), chunk):
        for case in session.scalars(select(Case).where(Case.id.in_(ids[start : start + chunk])).order_by(Case.id)):
            pm.hook.case_created(case=case)
        session.expunge_all()


def demo_case_count(session: Session) -> int:
    """How many cases carry the demo tag (the marker that the demo cases are loaded)."""
    return session.scalar(select(func.count(Case.id)).join(Case.tags).where(Tag.name == DEMO_TAG)) or 0


def load_demo(count: int = 3000, now: datetime | None = None, seed: int = SEED) -> DemoReport:
    """Fill the demo city (idempotent): staff, accounts, then the cases unless they are already there."""
    from core.extensions import db

    session = db.session
    report = DemoReport()
    directory = current_app.extensions["civic"].data_dir
    password = _password(directory)
    users = ensure_staff(session, password, report)
    first = users[STAFF[0].username]
    report.password = password if check_password_hash(first.password, password) else None
    accounts = ensure_accounts(session, users[RESIDENT_USER.username], report)

    report.cases_existing = demo_case_count(session)
    if report.cases_existing == 0 and count > 0:
        people: dict[str, list] = {"dispatcher": [users["dispatcher"]]}
        for person in STAFF:
            for code in person.departments:
                people.setdefault(code, []).append(users[person.username])
        started = time.perf_counter()
        load_cases(session, count, people, accounts, report, now=now, seed=seed)
        report.seconds = time.perf_counter() - started
    report.reports_created = ensure_sample_reports(session)
    return report


# Saved reports a city leader would start from (Reports menu): owner, roles shared with, spec.
SAMPLE_REPORTS = (
    ("Storm debris cases by zone, last 14 days", "pw_supervisor", ("Dispatcher", "Supervisor"),
     {"subject": "cases", "period": "last_14_days", "filters": {"service": ["STORM_DEBRIS", "ROAD_DEBRIS", "TREE_DOWN"]},
      "group": "zone", "measures": ["count", "open", "close_median"], "chart": "bar"}),
    ("Time to close by department, last 90 days", "dispatcher", ("Dispatcher", "Supervisor"),
     {"subject": "cases", "period": "last_90_days", "group": "department",
      "measures": ["count", "ack_median", "close_median", "close_p90", "within_sla", "reopen_rate"], "chart": "bar"}),
    ("Cases received per week, this year", "dispatcher", ("Dispatcher", "Supervisor", "Department staff"),
     {"subject": "cases", "period": "this_year", "group": "week", "measures": ["count", "close_median"], "chart": "line"}),
    ("Cases by channel, last 30 days", "dispatcher", ("Dispatcher",),
     {"subject": "cases", "period": "last_30_days", "group": "channel", "measures": ["count"], "chart": "pie"}),
)


def ensure_sample_reports(session: Session) -> int:
    """The sample reports above (those missing by name), shared with their roles; the PW supervisor gets the
    storm debris one every morning by e-mail."""
    from flask_appbuilder.security.sqla.models import Role

    from core.models import Report, ReportShare, ReportSubscription, User

    roles = {r.name: r.id for r in session.scalars(select(Role))}
    users = dict(session.execute(select(User.username, User.id)).all())
    have = set(session.scalars(select(Report.name)))
    created = 0
    for name, owner, shared_with, spec in SAMPLE_REPORTS:
        if name in have:
            continue
        report = Report(name=name, subject=spec["subject"], spec=spec, owner_id=users[owner],
                        description="Sample report of the demo city.",
                        shares=[ReportShare(role_id=roles[r]) for r in shared_with if r in roles])
        if owner == "pw_supervisor":
            report.subscriptions = [ReportSubscription(user_id=users[owner], frequency="daily")]
        session.add(report)
        created += 1
    session.commit()
    return created
