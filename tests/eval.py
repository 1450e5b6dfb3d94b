"""`make eval`: score the selection against an editor's annotations of real feeds.

``python -m tests.eval [DIR]`` reads ``DIR`` (default ``tests/data/real``; its README explains the format):
each ``annotations/<lang>/<feed>.json`` judges one feed's busiest local day, each ``annotations/cross/*.json``
two feeds read as one edition. Every annotated day is selected as a calendar day in its time zone (what
``DIGEST_EDITION_WINDOW=calendar`` builds) with the default rules (10 headlines) in the edition's language
(the annotation's folder; a cross edition takes its first feed's). Printed per edition and in total:

- featured: the featured article is one the editor would lead with;
- must-include: share of the editor's must-include links shown (the featured article counts, and so does
  a story shown through another copy of it);
- junk: links the editor marked as junk that were shown;
- groups once: of the same-story groups with a copy shown, the share shown once; ``all items`` repeats it
  with no cap on the headlines, so every group is tested.

An output item matches a link by URL (scheme, ``utm_*`` parameters and fragment ignored) or by title.

Then each annotated edition's feeds are replayed as a week (:func:`evaluate_weekly`): a daily edition (calendar
day, default rules) for each of the 7 days ending on the last day the feeds hold, then the weekly round-up of
that week; printed: how many days had an edition, the recall of the daily editions' featured stories in the
weekly (featured, headline, or another copy of one), and stories shown twice (none expected). Most feeds hold
fewer than 7 days: the days they hold are replayed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from digest.content import Article, Selection
from digest.selection import SelectionRules, calendar_window, select
from digest.selection.weekly import DailyEdition, select_week
from digest.sources import parse_source

DEFAULT_DIR = Path(__file__).parent / "data" / "real"


def link_key(url: str) -> str:
    """``url`` without scheme, ``utm_*`` parameters and fragment, for matching an annotation's link."""
    parts = urlsplit(url.strip())
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")])
    return f"{parts.netloc.lower()}{parts.path}?{query}"


@dataclass
class Score:
    """The figures of one edition (or of a total, summed)."""

    editions: int = 0
    featured_ok: int = 0
    featured_judged: int = 0
    must_shown: int = 0
    must_total: int = 0
    junk_shown: int = 0
    groups_once: int = 0
    groups_shown: int = 0
    groups_once_all: int = 0
    groups_total: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in (
            "editions",
            "featured_ok",
            "featured_judged",
            "must_shown",
            "must_total",
            "junk_shown",
            "groups_once",
            "groups_shown",
            "groups_once_all",
            "groups_total",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "    -"


def _read_feed(path: Path, tz: ZoneInfo, day: date) -> list[Article]:
    parsed = parse_source(path.read_bytes(), source=path.name, url=f"file://{path}", day=day, tz=tz)
    return list(parsed.articles)


class _Matcher:
    """Which annotated links an item shown stands for: by link key, else by title."""

    def __init__(self, articles: list[Article]) -> None:
        self.title_of: dict[str, set[str]] = {}
        for article in articles:
            self.title_of.setdefault(link_key(article.url), set()).add(article.title.strip().casefold())

    def matches(self, article: Article, link: str) -> bool:
        key = link_key(link)
        if link_key(article.url) == key or link_key(article.canonical_url) == key:
            return True
        return article.title.strip().casefold() in self.title_of.get(key, set())


def _shown(selection: Selection) -> list[tuple[Article, tuple[Article, ...]]]:
    picks = ([selection.featured] if selection.featured else []) + list(selection.headlines)
    return [(pick.article, pick.also) for pick in picks]


def score_edition(
    articles: list[Article], annotation: dict, language: str, *, uncapped: Selection, selection: Selection
) -> Score:
    """The figures of ``selection`` (and of ``uncapped``, for the groups) against ``annotation``."""
    matcher = _Matcher(articles)
    score = Score(editions=1)
    shown = _shown(selection)

    def story_shown(link: str) -> bool:
        return any(matcher.matches(a, link) or any(matcher.matches(c, link) for c in also) for a, also in shown)

    if annotation.get("featured_ok"):
        score.featured_judged = 1
        featured = selection.featured.article if selection.featured else None
        # Either member of a duplicate pair stands for the other (the README's rule for cross editions).
        acceptable = set(annotation["featured_ok"])
        for group in annotation.get("duplicates", []):
            if acceptable & set(group):
                acceptable |= set(group)
        if featured is not None and any(matcher.matches(featured, link) for link in acceptable):
            score.featured_ok = 1
        else:
            score.problems.append(f"featured: {featured.title if featured else None!r}")
    for link in annotation.get("must_include", []):
        score.must_total += 1
        if story_shown(link):
            score.must_shown += 1
        else:
            score.problems.append(f"missing: {link}")
    for link in annotation.get("junk", []):
        for article, _also in shown:
            if matcher.matches(article, link):
                score.junk_shown += 1
                score.problems.append(f"junk shown: {article.title!r}")
    for group in annotation.get("duplicates", []):
        for edition, capped in ((selection, True), (uncapped, False)):
            times = sum(1 for a, _ in _shown(edition) if any(matcher.matches(a, link) for link in set(group)))
            if capped and times:
                score.groups_shown += 1
                score.groups_once += times == 1
            if not capped:
                score.groups_total += 1
                score.groups_once_all += times == 1
                if times != 1:
                    score.problems.append(f"group shown {times} times (all items): {group[0]}")
    return score


def evaluate(directory: Path) -> list[tuple[str, Score]]:
    """Every annotated edition of ``directory`` with its figures."""
    results = []
    for path in sorted((directory / "annotations").glob("*/*.json")):
        annotation = json.loads(path.read_text(encoding="utf-8"))
        feeds = annotation.get("feeds") or [annotation["feed"]]
        language = feeds[0].split("/", 1)[0]
        tz = ZoneInfo(annotation["timezone"])
        day = date.fromisoformat(annotation["date"])
        articles = [a for feed in feeds for a in _read_feed(directory / feed, tz, day)]
        if path.parent.name == "cross":
            # A cross annotation judges the duplicates across outlets; each feed's own junk still counts.
            for feed in feeds:
                own = directory / "annotations" / feed.rsplit(".", 1)[0]
                own_path = own.with_suffix(".json")
                if own_path.exists():
                    annotation.setdefault("junk", []).extend(json.loads(own_path.read_text("utf-8")).get("junk", []))
        window = calendar_window(day, tz)
        rules = SelectionRules(language=language)
        selection = select(articles, window=window, day=day, rules=rules)
        uncapped = select(articles, window=window, day=day, rules=SelectionRules(language=language, headlines_max=1000))
        name = f"{path.parent.name}/{path.stem}"
        results.append((name, score_edition(articles, annotation, language, uncapped=uncapped, selection=selection)))
    return results


def report(results: list[tuple[str, Score]], *, verbose: bool = False) -> str:
    """The figures as a table, per edition then in total."""
    lines = [f"{'edition':42} featured  must-include  junk  groups once  (all items)"]
    total = Score()
    for name, score in results:
        total.add(score)
        featured = "-" if not score.featured_judged else ("yes" if score.featured_ok else "no")
        lines.append(
            f"{name:42} {featured:8}  {score.must_shown:>2}/{score.must_total:<2}"
            f" {_percent(score.must_shown, score.must_total)}"
            f"  {score.junk_shown:>4}  {score.groups_once:>2}/{score.groups_shown:<2}"
            f"        {score.groups_once_all:>2}/{score.groups_total:<2}"
        )
        if verbose:
            lines.extend(f"    {problem}" for problem in score.problems)
    lines.append(
        f"{'total (' + str(total.editions) + ' editions)':42} {total.featured_ok:>2}/{total.featured_judged:<2}"
        f"{_percent(total.featured_ok, total.featured_judged)}"
        f" {total.must_shown:>2}/{total.must_total:<2} {_percent(total.must_shown, total.must_total)}"
        f"  {total.junk_shown:>4}  {total.groups_once:>2}/{total.groups_shown:<2}"
        f" {_percent(total.groups_once, total.groups_shown)}  {total.groups_once_all:>2}/{total.groups_total:<2}"
        f" {_percent(total.groups_once_all, total.groups_total)}"
    )
    return "\n".join(lines)


@dataclass
class WeekScore:
    """The figures of one replayed week: daily editions built, their featured stories, how many of those the
    weekly shows, and links the weekly shows more than once."""

    days: int = 0
    featured: int = 0
    featured_shown: int = 0
    repeated: int = 0


def replay_week(articles: list[Article], tz: ZoneInfo, language: str) -> tuple[list[DailyEdition], Selection]:
    """The daily editions (calendar days) of the 7 days ending on the last day ``articles`` hold, and the
    weekly edition of that week built from the articles and those editions."""
    last = max(a.published.astimezone(tz).date() for a in articles if a.published is not None)
    rules = SelectionRules(language=language)
    dailies = []
    for back in range(6, -1, -1):
        day = last - timedelta(days=back)
        daily = select(articles, window=calendar_window(day, tz), day=day, rules=rules)
        if not daily.is_empty:
            dailies.append(DailyEdition(day, daily))
    week = (calendar_window(last, tz)[1] - timedelta(days=7), calendar_window(last, tz)[1])
    return dailies, select_week(articles, dailies, window=week, day=last, rules=rules)


def score_week(dailies: list[DailyEdition], weekly: Selection) -> WeekScore:
    """How many of the daily editions' featured stories ``weekly`` shows, and the links it shows twice."""
    shown = [link.canonical_url for article, also in _shown(weekly) for link in (article, *also)]
    featured = [d.selection.featured.article.canonical_url for d in dailies if d.selection.featured]
    return WeekScore(
        days=len(dailies),
        featured=len(featured),
        featured_shown=sum(url in shown for url in featured),
        repeated=len(shown) - len(set(shown)),
    )


def evaluate_weekly(directory: Path) -> list[tuple[str, WeekScore]]:
    """Each annotated edition's feeds replayed as a week (:func:`replay_week`), with its figures."""
    results = []
    for path in sorted((directory / "annotations").glob("*/*.json")):
        annotation = json.loads(path.read_text(encoding="utf-8"))
        feeds = annotation.get("feeds") or [annotation["feed"]]
        tz = ZoneInfo(annotation["timezone"])
        day = date.fromisoformat(annotation["date"])
        articles = [a for feed in feeds for a in _read_feed(directory / feed, tz, day)]
        dailies, weekly = replay_week(articles, tz, feeds[0].split("/", 1)[0])
        results.append((f"{path.parent.name}/{path.stem}", score_week(dailies, weekly)))
    return results


def weekly_report(results: list[tuple[str, WeekScore]]) -> str:
    """The replayed weeks' figures as a table, per week then in total."""
    lines = [f"{'week of':42} days  daily featured in the weekly  shown twice"]
    total = WeekScore()
    for name, week in results:
        for field_name in ("days", "featured", "featured_shown", "repeated"):
            setattr(total, field_name, getattr(total, field_name) + getattr(week, field_name))
        lines.append(
            f"{name:42} {week.days:>4}  {week.featured_shown:>2}/{week.featured:<2}"
            f" {_percent(week.featured_shown, week.featured)}{'':14}{week.repeated:>4}"
        )
    lines.append(
        f"{'total (' + str(len(results)) + ' weeks)':42} {total.days:>4}  {total.featured_shown:>2}/{total.featured:<2}"
        f" {_percent(total.featured_shown, total.featured)}{'':14}{total.repeated:>4}"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the figures of the annotated editions of ``argv[0]`` (default: tests/data/real); -v lists misses."""
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    directory = Path(args[0]) if args else DEFAULT_DIR
    print(report(evaluate(directory), verbose=verbose))
    print()
    print(weekly_report(evaluate_weekly(directory)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
