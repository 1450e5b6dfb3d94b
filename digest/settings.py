"""Settings, read once from the environment and `.env` at an entry point and passed down."""

from __future__ import annotations

import ipaddress
import re
import string
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from digest.errors import ConfigError, SubscriberError
from digest.window import WindowMode, parse_cutoff
from subscribers.inputs import MAX_SECTION_LENGTH, check_slug, check_text

SAMPLE_FEED = Path(__file__).parent / "samples" / "feed.xml"
SAMPLE_SUBSCRIBERS = Path(__file__).parent / "samples" / "subscribers.csv"
# Keys anyone could guess: published ones (the old demo key, placeholders) and ones short enough to guess.
# `digest serve` refuses to start with one of them.
KNOWN_WEAK_KEYS = frozenset(
    {"digest-demo-key-not-secret", "change-me", "changeme", "secret", "secret-key", "password", "test-secret"}
)
MIN_KEY_LENGTH = 16
# The editor's password guards approval and test sends; HTTP Basic is rate limited, but short ones still fall.
MIN_EDITOR_PASSWORD = 12

# The sample publication's name as readers of other languages know it: used while DIGEST_PUBLICATION_NAME
# keeps its default, so that the demo's Arabic readers get Arabic chrome. A real publication sets
# DIGEST_PUBLICATION_NAME_<LANG> itself.
DEFAULT_PUBLICATION_NAMES = {"ar": "اليومية"}

# The fields DIGEST_SUBJECT_TEMPLATE and DIGEST_PREHEADER_TEMPLATE may use, as {name}.
TEXT_TEMPLATE_FIELDS = ("publication", "featured_title", "featured_summary", "date", "list")

MailBackendName = Literal["outbox", "sendgrid", "smtp", "console"]
HeadlineStyleName = Literal["titles", "summaries", "thumbnails"]
WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# In date.weekday() order.
WEEKDAYS: tuple[str, ...] = get_args(WeekdayName)


def check_text_template(template: str) -> None:
    """Raise ValueError unless ``template`` is a str.format template using only TEXT_TEMPLATE_FIELDS."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise ValueError(f"bad template {template!r}: {err} (write {{{{ and }}}} for literal braces)") from err
    unknown = sorted({name for name in fields if name not in TEXT_TEMPLATE_FIELDS})
    if unknown:
        allowed = ", ".join(f"{{{field}}}" for field in TEXT_TEMPLATE_FIELDS)
        raise ValueError(f"unknown field {{{unknown[0]}}} in {template!r}; use {allowed}")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: str) -> timedelta:
    """A duration written like ``1h``, ``30m``, ``90s`` or ``2d``; ValueError says the form."""
    match = _DURATION.fullmatch(value.strip().lower())
    if not match:
        raise ValueError(f"not a duration like 1h, 30m or 90s (got {value!r})")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


class Settings(BaseSettings):
    """Every setting of DESIGN.md, with its environment name as alias.

    Build it with :func:`load_settings` at an entry point; tests build their own with keyword arguments
    (``Settings(database_url=..., _env_file=None)``).
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
    )

    database_url: str = Field("sqlite:///./digest.db", validation_alias="DATABASE_URL")
    sources: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: [str(SAMPLE_FEED)], validation_alias="DIGEST_SOURCES"
    )
    mail_backend: MailBackendName = Field("outbox", validation_alias="DIGEST_MAIL_BACKEND")
    outbox_dir: Path = Field(Path("./outbox"), validation_alias="DIGEST_OUTBOX_DIR")
    sendgrid_api_key: str | None = Field(None, validation_alias="SENDGRID_API_KEY")
    sendgrid_host: str = Field("https://api.sendgrid.com", validation_alias="DIGEST_SENDGRID_HOST")
    smtp_url: str | None = Field(None, validation_alias="DIGEST_SMTP_URL")
    base_url: str = Field("http://127.0.0.1:8000", validation_alias="DIGEST_BASE_URL")
    secret_key: str | None = Field(None, validation_alias="DIGEST_SECRET_KEY")
    from_address: str = Field("Digest <digest@example.com>", validation_alias="DIGEST_FROM")
    timezone: str = Field("Africa/Casablanca", validation_alias="DIGEST_TIMEZONE")
    language: Literal["fr", "en", "ar"] = Field("fr", validation_alias="DIGEST_LANGUAGE")
    editor_password: str | None = Field(None, validation_alias="DIGEST_EDITOR_PASSWORD")
    list_slug: str = Field("quotidien", validation_alias="DIGEST_LIST")
    auto_approve: bool = Field(False, validation_alias="DIGEST_AUTO_APPROVE")
    sendgrid_webhook_public_key: str | None = Field(None, validation_alias="SENDGRID_WEBHOOK_PUBLIC_KEY")
    publication_name: str = Field("Le Quotidien", validation_alias="DIGEST_PUBLICATION_NAME")
    postal_address: str = Field(
        "Le Quotidien, 1 avenue Mohammed V, 10000 Rabat, Maroc", validation_alias="DIGEST_POSTAL_ADDRESS"
    )
    headlines_max: int = Field(10, ge=1, le=100, validation_alias="DIGEST_HEADLINES_MAX")
    send_timeout: float = Field(30.0, gt=0, le=600, validation_alias="DIGEST_SEND_TIMEOUT")
    send_rate: float = Field(0.0, ge=0, validation_alias="DIGEST_SEND_RATE")
    send_retries: int = Field(5, ge=0, le=20, validation_alias="DIGEST_SEND_RETRIES")
    tracking: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="DIGEST_TRACKING")
    # None: each language's own wording ("{publication} : {featured_title}" in French).
    subject_template: str | None = Field(None, validation_alias="DIGEST_SUBJECT_TEMPLATE")
    preheader_template: str = Field("{featured_summary}", validation_alias="DIGEST_PREHEADER_TEMPLATE")
    # Per-language chrome: a reader of that language gets these; unset, the unsuffixed setting.
    publication_name_fr: str | None = Field(None, validation_alias="DIGEST_PUBLICATION_NAME_FR")
    publication_name_en: str | None = Field(None, validation_alias="DIGEST_PUBLICATION_NAME_EN")
    publication_name_ar: str | None = Field(None, validation_alias="DIGEST_PUBLICATION_NAME_AR")
    subject_template_fr: str | None = Field(None, validation_alias="DIGEST_SUBJECT_TEMPLATE_FR")
    subject_template_en: str | None = Field(None, validation_alias="DIGEST_SUBJECT_TEMPLATE_EN")
    subject_template_ar: str | None = Field(None, validation_alias="DIGEST_SUBJECT_TEMPLATE_AR")
    preheader_template_fr: str | None = Field(None, validation_alias="DIGEST_PREHEADER_TEMPLATE_FR")
    preheader_template_en: str | None = Field(None, validation_alias="DIGEST_PREHEADER_TEMPLATE_EN")
    preheader_template_ar: str | None = Field(None, validation_alias="DIGEST_PREHEADER_TEMPLATE_AR")
    headline_style: HeadlineStyleName = Field("titles", validation_alias="DIGEST_HEADLINE_STYLE")
    utm: bool = Field(True, validation_alias="DIGEST_UTM")
    utm_source: str = Field("newsletter", min_length=1, max_length=60, validation_alias="DIGEST_UTM_SOURCE")
    brand_color: str = Field("#b3261e", validation_alias="DIGEST_BRAND_COLOR")
    logo_url: str | None = Field(None, validation_alias="DIGEST_LOGO_URL")
    logo_size: str = Field("200x40", validation_alias="DIGEST_LOGO_SIZE")
    summary_chars: int = Field(300, ge=80, le=2000, validation_alias="DIGEST_SUMMARY_CHARS")
    group_by_section: bool = Field(False, validation_alias="DIGEST_GROUP_BY_SECTION")
    # VERP: each delivery's envelope sender, so a bounce names the delivery it answers.
    bounce_address: str | None = Field(None, validation_alias="DIGEST_BOUNCE_ADDRESS")
    section_order: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="DIGEST_SECTION_ORDER")
    section_max: int = Field(0, ge=0, le=100, validation_alias="DIGEST_SECTION_MAX")
    sections: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="DIGEST_SECTIONS")
    section_weights: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict, validation_alias="DIGEST_SECTION_WEIGHTS"
    )
    source_weights: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict, validation_alias="DIGEST_SOURCE_WEIGHTS"
    )
    headline_order: Literal["importance", "time"] = Field("importance", validation_alias="DIGEST_HEADLINE_ORDER")
    edition_window: WindowMode = Field("rolling", validation_alias="DIGEST_EDITION_WINDOW")
    edition_cutoff: time = Field(time(6, 0), validation_alias="DIGEST_EDITION_CUTOFF")
    min_articles: int = Field(3, ge=0, le=100, validation_alias="DIGEST_MIN_ARTICLES")
    weekly_day: WeekdayName = Field("sunday", validation_alias="DIGEST_WEEKLY_DAY")
    uncertain_settle: timedelta = Field(timedelta(hours=1), validation_alias="DIGEST_UNCERTAIN_SETTLE")
    # None: readers get the edition when `digest send` runs; a time: at that local time in each reader's zone.
    delivery_hour: time | None = Field(None, validation_alias="DIGEST_DELIVERY_HOUR")
    delivery_late: timedelta = Field(timedelta(hours=6), validation_alias="DIGEST_DELIVERY_LATE")

    @field_validator("edition_cutoff", mode="before")
    @classmethod
    def _parse_cutoff(cls, value: Any) -> Any:
        return parse_cutoff(value) if isinstance(value, str) else value

    @field_validator("weekly_day", mode="before")
    @classmethod
    def _lower_weekday(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def weekly_weekday(self) -> int:
        """DIGEST_WEEKLY_DAY as ``date.weekday()`` numbers it (Monday 0)."""
        return WEEKDAYS.index(self.weekly_day)

    @field_validator("delivery_hour", mode="before")
    @classmethod
    def _parse_delivery_hour(cls, value: Any) -> Any:
        if isinstance(value, str):
            return None if value.strip().lower() in ("", "none") else parse_cutoff(value)
        return value

    @field_validator("delivery_late")
    @classmethod
    def _check_delivery_late(cls, value: timedelta) -> timedelta:
        # At least one run of the 15-minute timer must fall inside it.
        # At most 20 h: the turns of two consecutive editions in one zone never overlap, even across a clock
        # change of two hours (Antarctica/Troll).
        if not timedelta(minutes=15) <= value <= timedelta(hours=20):
            raise ValueError(f"must be from 15m to 20h (got {value})")
        return value

    @field_validator("uncertain_settle", "delivery_late", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("section_weights", "source_weights", mode="before")
    @classmethod
    def _parse_weights(cls, value: Any) -> Any:
        """``Name:2,Other:0.7`` (a source's name may hold colons, as in a URL: the last one splits)."""
        if not isinstance(value, str):
            return value
        weights: dict[str, float] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            name, colon, number = part.rpartition(":")
            try:
                weight = float(number)
            except ValueError:
                weight = -1.0
            if not colon or not name.strip() or not 0 <= weight <= 100:
                raise ValueError(
                    f"{part!r} is not NAME:WEIGHT with a weight from 0 to 100 (e.g. Politique:2,Sport:0.7)"
                )
            weights[name.strip()] = weight
        return weights

    redis_url: str | None = Field(None, validation_alias="DIGEST_REDIS_URL")
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="DIGEST_TRUSTED_PROXIES"
    )

    @field_validator("sources", "section_order", "sections", "tracking", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as err:
                raise ValueError(f"{network!r} is not an IP address or network like 10.0.0.0/8") from err
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"must be a redis:// URL (got {value!r})")
        return value or None

    @field_validator("editor_password")
    @classmethod
    def _check_editor_password(cls, value: str | None) -> str | None:
        if value and len(value) < MIN_EDITOR_PASSWORD:
            raise ValueError(f"has {len(value)} characters: at least {MIN_EDITOR_PASSWORD}")
        return value or None

    @field_validator("list_slug")
    @classmethod
    def _check_list_slug(cls, value: str) -> str:
        try:
            return check_slug(value)
        except SubscriberError as err:
            raise ValueError(str(err)) from err

    @field_validator("sections", "section_order")
    @classmethod
    def _check_sections(cls, value: list[str]) -> list[str]:
        try:
            return [check_text(section, "section", max_length=MAX_SECTION_LENGTH) for section in value]
        except SubscriberError as err:
            raise ValueError(str(err)) from err

    @field_validator("tracking")
    @classmethod
    def _check_tracking(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"opens", "clicks"})
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}: list opens, clicks or nothing")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as err:
            raise ValueError(f"not a database URL ({value!r}); try sqlite:///./digest.db") from err
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {url.get_backend_name()!r}: use sqlite or postgresql")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Africa/Casablanca)") from err
        return value

    @field_validator("base_url", "sendgrid_host")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https:// (got {value!r})")
        # Links made from it go verbatim into List-Unsubscribe headers, which hold printable ASCII on one line.
        if not (value.isascii() and value.isprintable()) or " " in value:
            raise ValueError(
                f"must be printable ASCII without spaces; write an internationalised domain in its xn-- form "
                f"and percent-encode the path (got {value!r})"
            )
        if len(value) > 500:
            raise ValueError(f"is {len(value)} characters long: at most 500, so that links fit in a header line")
        return value.rstrip("/")

    @field_validator(
        "subject_template",
        "preheader_template",
        "subject_template_fr",
        "subject_template_en",
        "subject_template_ar",
        "preheader_template_fr",
        "preheader_template_en",
        "preheader_template_ar",
    )
    @classmethod
    def _check_text_template(cls, value: str | None) -> str | None:
        if value is not None:
            check_text_template(value)
        return value

    @field_validator("publication_name_fr", "publication_name_en", "publication_name_ar")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value if value and value.strip() else None

    @field_validator("bounce_address")
    @classmethod
    def _check_bounce_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        local, at, domain = value.partition("@")
        if local.count("{delivery}") != 1 or not at or not domain or "{" in domain or not value.isascii():
            example = "bounces+{delivery}@example.com"
            raise ValueError(
                f"expected an ASCII address with {{delivery}} before the @, e.g. {example} (got {value!r})"
            )
        return value

    @field_validator("logo_size")
    @classmethod
    def _check_logo_size(cls, value: str) -> str:
        match = re.fullmatch(r"\s*(\d{1,4})\s*x\s*(\d{1,4})\s*", value)
        if not match or not all(0 < int(number) <= 2000 for number in match.groups()):
            raise ValueError(f"not a size like 200x40, in pixels (got {value!r})")
        return f"{int(match[1])}x{int(match[2])}"

    @field_validator("brand_color")
    @classmethod
    def _check_colour(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
            raise ValueError(f"not a colour like #b3261e (got {value!r})")
        return value.lower()

    @field_validator("logo_url")
    @classmethod
    def _check_logo_url(cls, value: str | None) -> str | None:
        if value and not value.startswith("https://"):
            raise ValueError(f"must be an https:// image URL (got {value!r})")
        return value or None

    @property
    def logo_dimensions(self) -> tuple[int, int]:
        """The logo's width and height in pixels, as DIGEST_LOGO_SIZE states them."""
        width, height = self.logo_size.split("x")
        return int(width), int(height)

    def publication_name_for(self, language: str) -> str:
        """The publication's name as readers of ``language`` see it (DIGEST_PUBLICATION_NAME_<LANG>)."""
        own = getattr(self, f"publication_name_{language}", None)
        if own:
            return str(own)
        if "publication_name" not in self.model_fields_set:
            return DEFAULT_PUBLICATION_NAMES.get(language, self.publication_name)
        return self.publication_name

    def subject_template_for(self, language: str) -> str | None:
        """The subject template of ``language``'s readers; None: the language's default wording."""
        return getattr(self, f"subject_template_{language}", None) or self.subject_template

    def preheader_template_for(self, language: str) -> str:
        """The preheader template of ``language``'s readers (DIGEST_PREHEADER_TEMPLATE_<LANG>)."""
        return getattr(self, f"preheader_template_{language}", None) or self.preheader_template

    @property
    def tz(self) -> ZoneInfo:
        """The publication's time zone."""
        return ZoneInfo(self.timezone)

    def signing_keys(self) -> list[str]:
        """Keys for signed links, newest first (``DIGEST_SECRET_KEY`` may list old keys after commas).

        Without DIGEST_SECRET_KEY the key is the random one `digest init` stored in the database (entry points
        fill it in with :func:`digest.db.with_stored_secret`); there is no built-in key.
        """
        if self.secret_key:
            return [key.strip() for key in self.secret_key.split(",") if key.strip()]
        raise ConfigError(
            "DIGEST_SECRET_KEY is not set and the database holds no generated key: run `digest init`, or set it "
            "to a long random string (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )

    def weak_keys(self) -> list[str]:
        """Why each listed signing key is guessable (empty: none is)."""
        problems = []
        for number, key in enumerate(self.signing_keys(), start=1):
            if key in KNOWN_WEAK_KEYS:
                problems.append(f"key {number} is a published example")
            elif len(key) < MIN_KEY_LENGTH:
                problems.append(f"key {number} has {len(key)} characters (at least {MIN_KEY_LENGTH})")
        return problems


_FIELD_TO_ENV = {
    name: (field.validation_alias if isinstance(field.validation_alias, str) else name.upper())
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment and `.env`; a bad value raises one clear ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors():
            field = str(error["loc"][0]) if error["loc"] else "settings"
            env_name = _FIELD_TO_ENV.get(field, field.upper())
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{env_name}: {message}")
        raise ConfigError("bad setting: " + "; ".join(problems)) from err
