"""What an item is: junk that never reaches readers, and the kind of piece, read from signals feeds carry.

The signals are the URL's path segments and host, the item's categories and the shape of its title: a
"[Sponsor]" tag, a "– video" or "| Columnist" suffix, a title that is one quotation, a number of "things",
a question. Word lists stay short, general and in the three languages of our editions (fr, en, ar); none
names an outlet.

Kinds, with the factor they weigh a piece's importance by (hard news is 1):

| kind | factor | e.g. |
|---|---|---|
| live | 1.3 | live coverage, breaking news ("en direct", "live", "عاجل") |
| news | 1.0 | everything else |
| sport | 0.8 | sport sections |
| video | 0.7 | a video, gallery or picture story (a format of a story, often of another item) |
| explainer | 0.6 | "how", "why", "who is", "what we know", questions, polls |
| feature | 0.55 | culture, lifestyle, magazine, reviews, interviews in quotes |
| opinion | 0.45 | opinion, columns, editorials, blogs, analysis |
| service | 0.3 | how-to guides, listicles, quizzes, horoscopes, podcasts |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from digest.content import Article
from digest.selection.language import fold


@dataclass(frozen=True, slots=True)
class Kind:
    """The kind of a piece, its importance factor and what told it (for the pick's reason)."""

    name: str
    factor: float
    signal: str = ""


NEWS = Kind("news", 1.0)
# Feed text is hostile: patterns read at most this much of a title, and of a text.
_TITLE_CHARS = 300
_TEXT_CHARS = 5000
KIND_FACTORS = {
    "live": 1.3,
    "news": 1.0,
    "sport": 0.8,
    "video": 0.7,
    "explainer": 0.6,
    "feature": 0.55,
    "opinion": 0.45,
    "service": 0.3,
}

# URL path segments (and category names) that say what kind of piece it is. Compared folded (no accents).
_SEGMENT_KINDS: dict[str, str] = {}
for _kind, _names in {
    "live": "live liveblog live-news direct en-direct breaking urgent",
    "video": "video videos watch gallery galleries photos photo diaporama in-pictures picture pictures "
    "multimedia av tv-video",
    "opinion": "opinion opinions commentisfree comment editorial editorials edito idees tribune tribunes "
    "chronique chroniques column columns columnists vox blog blogs analysis analyse debats debat "
    "point-de-vue letters courrier m-actu-chroniques rai maqalat",
    "feature": "culture film films movies music musique cinema tv tv-and-radio television arts art books "
    "livres lifestyle life style styles fashion mode beauty beaute food cuisine recipes recettes travel "
    "voyage voyages women femmes people celebrity celebrities entertainment loisirs magazine m-actu "
    "weekend insider art-de-vivre well wellness series obituaries obituary nécrologie necrologie reviews "
    "review critique critiques long-reads longread longform interview interviews portrait portraits",
    "sport": "sport sports football soccer olympics rugby tennis basketball nba nfl cricket golf cycling "
    "formule-1 formula1 f1 athletisme jeux-olympiques riyada",
    "service": "podcast podcasts audio sounds radio quiz quizzes horoscope horoscopes astrologie games jeux "
    "crossword mots-croises sudoku puzzles how-to guide guides conseils pratique tips "
    "newsletters",
}.items():
    for _name in _names.split():
        _SEGMENT_KINDS.setdefault(fold(_name), _kind)

# Words of a kicker, the capitalised label a summary or title starts with ("SONDAGE EXCLUSIF - ...",
# "TRIBUNE - ...", "EN IMAGES - ..."): the newsroom's own word for the kind of piece.
_KICKER_KINDS = {
    fold(word): kind
    for kind, names in {
        "live": "direct live breaking urgent alerte عاجل مباشر",
        "explainer": "sondage poll survey decryptage explainer factcheck fact-check استطلاع",
        "feature": "entretien interview portrait reportage critique review enquete-magazine حوار",
        "opinion": "tribune opinion editorial edito analyse analysis chronique commentary comment figarovox billet رأي",
        "service": "conseils conseil guide pratique tuto tutoriel quiz horoscope podcast",
        "video": "video photos diaporama فيديو",
    }.items()
    for word in names.split()
}
_KICKER = re.compile(r"^\s*([A-ZÀ-ÖØ-Þ0-9][A-ZÀ-ÖØ-Þ0-9/ '’&.-]{2,40}?)\s+[-–—:|]\s")


def _kicker_kind(text: str) -> Kind | None:
    match = _KICKER.match(text)
    if not match:
        return None
    for word in re.split(r"[^\w-]+", fold(match.group(1))):
        kind = _KICKER_KINDS.get(word)
        if kind:
            return Kind(kind, KIND_FACTORS[kind], f"kicker {match.group(1).strip()}")
    return None


# Categories in Arabic (the script does not go into URLs): opinion, culture, sport, variety.
_CATEGORY_KINDS = {
    fold(name): kind
    for name, kind in {
        "رأي": "opinion",
        "مقالات": "opinion",
        "أعمدة": "opinion",
        "ثقافة": "feature",
        "فن": "feature",
        "منوعات": "feature",
        "رياضة": "sport",
        "فيديو": "video",
        "مباشر": "live",
        "عاجل": "live",
    }.items()
}

_TITLE_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "live",
        re.compile(
            r"(?i)^(?:en direct|direct|live|breaking|urgent|alerte|عاجل|مباشر)\b\s*[:|,–—-]"
            r"|[–—-]\s*(?:live|en direct)\s*!?$|\blive updates?\b|\bsuivez en direct\b"
        ),
    ),
    (
        "service",
        re.compile(
            r"(?i)\bhoroscope|\bquiz\b|\bcrossword|\bsudoku|\bwordle\b|\bpodcast\b"
            r"|\bhow to\b|\bcomment (?:bien |faire |choisir |pr[ée]parer |r[ée]ussir |obtenir |[ée]viter )"
            r"|\beverything you need to know\b|\btout savoir\b|\bce qu.il faut savoir\b|\bnos conseils\b"
            r"|^(?:\d+ )?tips?\b|^(?:the |a |your |le |notre )?guide (?:to|for|des|du|de la|pour)\b"
            r"|كل ما تحتاج|دليلك|نصائح|أبراج|برجك"
            r"|^(?:top |the )?\d+ (?:best|worst|things|ways|reasons|tips|signs|foods|places|choses|raisons|"
            r"conseils|astuces|fa[çc]ons|id[ée]es|erreurs|plats|أشياء|طرق|أسباب|نصائح|أغذية)\b"
            r"|\b\d+ (?:أشياء|طرق|أسباب|نصائح|أغذية)|\b(?:greatest|best|worst)\b.*\b(?:ever|of all time)\b"
            r"|\btop (?:five|ten|three|\d+)\b"
        ),
    ),
    (
        "video",
        re.compile(r"(?i)[–—-]\s*(?:video|vid[ée]o|in pictures|en images|photos)\s*$|^(?:video|vid[ée]o)\s*[:|]"),
    ),
    (
        "opinion",
        re.compile(
            r"(?i)\s\|\s\S.{0,60}$|^«[^»]{20,}»\s*,?\s*par\s|,\s*par\s+\S+\s+\S+\s*$|\b(?:opinion|op-ed|edito|éditorial)\s*:"
        ),
    ),
    (
        "feature",
        re.compile(
            r"""^\s*[«"“'‘][^«»"“”]{15,}[»"”'’]\s*$"""  # the whole title is one quotation: an interview
            r"""|^[^«"“‘:]{3,40}\s*:\s*[«"“‘'][^»"”’]{10,}[»"”’']\s*$"""  # Name: «quote»
            r"|(?i:\breview\b|\brevue\b.*\bcritique\b)"
        ),
    ),
    (
        "explainer",
        re.compile(
            # "WHO" in capitals is the World Health Organization, not a question.
            r"(?i)^(?-i:(?!WHO\b))(?:how|why|what|who|when|where|explainer|analysis|comment|pourquoi|qui est|"
            r"que sait-on|ce que l.on sait|what we know|kind of|كيف|لماذا|ما هو|ما هي|من هو|من هي)\b"
            r"|\?\s*$|؟\s*$|\b(?:sondage|poll|survey|استطلاع)\b"
        ),
    ),
]

# Hard news that leads: deaths, attacks, disasters, war, courts' rulings and sentences, in the title. A news
# item saying so weighs SEVERE.
SEVERE = 1.2
_SEVERE_TITLE = re.compile(
    r"(?i)\b(?:killed|kills?|dead|deaths?|dies|attacks?|bomb(?:ing)?s?|explosi(?:on|ves?)s?|terror\w*|shooting|"
    r"crash(?:es)?|earthquakes?|quakes?|tsunami|floods?|wildfires?|war|strikes?|airstrikes?|invasion|incursion|"
    r"hostages?|massacre|plot|evacuat\w+|(?:supreme|top|high) court|court rul\w+|verdict|sentenced|convicted|"
    r"jailed|indicted|"
    r"tu[ée]e?s?|morts?|mortes?|d[ée]c[èe]s|attentats?|attaques?|fusillade|s.[ée]crase|s[ée]ismes?|"
    r"inondations?|incendies?|guerre|frappes?|raids?|otages?|complot|[ée]vacu\w+|condamn[ée]e?s?|"
    r"mise? en examen|inculp[ée]e?s?|cour de cassation|conseil constitutionnel)\b"
    r"|مقتل|قتلى|قتيل|هجوم|انفجار|زلزال|حرب|غارات|قصف|اجتياح|رهائن|فيضانات|حريق|محكمة|بالسجن|أدين"
)


def severity(article: Article) -> float:
    """SEVERE when the title tells of deaths, an attack, a disaster, war or a court's ruling; else 1."""
    return SEVERE if _SEVERE_TITLE.search(article.title[:_TITLE_CHARS]) else 1.0


# Junk: items that promote something and carry no news. Checked on title, categories and URL.
_SPONSORED_TITLE = re.compile(
    r"(?i)^\s*[\[(]?\s*(?:sponsor(?:ed|is[ée])?|sponsoris[ée]|partner(?:ed)? content|paid post|promoted|"
    r"advertorial|advertisement|publicit[ée]|publi-?r[ée]dactionnel|contenu (?:sponsoris[ée]|partenaire)|"
    r"إعلان|محتوى (?:مدعوم|ممول))\b\s*[\])]?\s*[:|–—-]?"
    r"|[\[(](?:sponsor(?:ed)?|ad|pub|publicit[ée]|partenaire|partner|إعلان)[\])]\s*$"
)
_SHOPPING_TITLE = re.compile(
    r"(?i)^\s*(?:promos?|bons? plans?|deals?|soldes|black friday|cyber monday|code promo|offre sp[ée]ciale|"
    r"تخفيضات|عروض)\s*[:|–—-]"
    r"|\b(?:best|top|today.s|daily|black friday|cyber monday|prime day)\b[^.!?]{0,40}\bdeals\b"
    r"|\bdeals? of the (?:day|week)\b|\bprix en baisse\b|\bcodes? promo\b|\bbons plans\b"
    r"|\b(?:meilleures? |top )?(?:promos?|soldes) (?:du jour|de la semaine|amazon|fnac)\b"
    r"|\bbuying guide\b|\bguide d.achat\b|\bbest [^.!?]{3,50} to buy\b|\bmeilleur[es]* [^.!?]{3,50} [àa] acheter\b"
    r"|\b\d+ ?% (?:off|de r[ée]duction)\b|\bon sale\b|\bbuy now\b"
)
# A newsletter's shell posted as an item ("Thursday Briefing", "Morning Newsletter"): it points to the news.
_SHELL_TITLE = re.compile(
    r"(?i)^(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|morning|evening|midday|weekend|daily|weekly|your|the)?"
    r"\s*(?:news )?(?:briefing|newsletter|digest|roundup|lettre d.information|la matinale|"
    r"l.essentiel du (?:jour|soir))\b"
)
_SHELL_SEGMENTS = frozenset({"briefing", "briefings", "newsletter", "newsletters"})
_PROMO_TITLE = re.compile(
    r"(?i)^\s*(?:download (?:now|the app|our app)|get the app|install (?:the|our) app|"
    r"t[ée]l[ée]chargez (?:notre |l.)appli(?:cation)?|abonnez-vous|subscribe\b|sign up (?:now|for)|"
    r"follow us|suivez-nous|rejoignez-nous|jeu[- ]concours\b|gagnez\b|win (?:a|an|tickets|free)\b|"
    r"حمل التطبيق|حمّل التطبيق|اشترك الآن|تابعونا|انضم إلى قناتنا|انضموا إلى)\b"
    r"|\bconcours\b[^.!?]{0,40}\bgagne"
    r"|\bjoin (?:us|our [^.!?]{0,30}(?:channel|community|newsletter))\b|\bgiveaway\b"
    r"|\brejoignez notre (?:cha[iî]ne|communaut[ée]|newsletter)\b"
)
# Sales talk in the text of an ad that does not say it is one. A show's notes may carry a sponsor's read or
# two; three different phrases make the item itself an ad.
_SALES_TALK = re.compile(
    r"(?i)\b(?:offer|promo|discount|coupon) code\b|\bcodes? promo\b"
    r"|\b\d+ ?(?:%|percent|pour ?cent) (?:off|de r[ée]duction)\b"
    r"|\bfree (?:\d+-day )?trial\b|\bessai gratuit\b|\btry [\w ]{1,30} (?:for )?free\b|\bbuy (?:it )?now\b"
    r"|\bachetez[- ]le\b|\bsign up today\b|\binscrivez-vous d[èe]s maintenant\b|كود الخصم|تخفيض بنسبة|جرب مجانا"
)
SALES_TALK_PHRASES = 3
_JUNK_SEGMENTS = frozenset(
    fold(name)
    for name in [
        "sponsored",
        "sponsor",
        "partner",
        "partners",
        "partenaire",
        "partenaires",
        "brandvoice",
        "advertorial",
        "paid-post",
        "paidpost",
        "publi-redactionnel",
        "deals",
        "shopping",
        "bons-plans",
        "codes-promo",
        "coupons",
        "promos",
        "promo",
    ]
)
_APP_STORES = ("apps.apple.com", "itunes.apple.com", "play.google.com")
_AD_HOSTS = ("doubleclick.net", "feedads.", "adclick", "ads.")


def _segments(url: str) -> list[str]:
    parts = urlsplit(url)
    segments = [fold(unquote(s)) for s in parts.path.split("/") if s]
    host = parts.netloc.lower()
    # blog.example.com / example.com/blog: the host says it too.
    if host.startswith("blog.") or ".blog." in host or host.startswith("blogs."):
        segments.insert(0, "blog")
    return segments


def _segment_kind(segment: str) -> str | None:
    """The kind a path segment names: itself, or a section named by its first two words
    ("jeux-olympiques-2024") or its first word of five letters or more ("chroniques-de-la-presidence")."""
    words = segment.split("-")
    first = words[0] if len(words) > 1 and len(words[0]) >= 5 else ""
    return _SEGMENT_KINDS.get(segment) or _SEGMENT_KINDS.get("-".join(words[:2])) or _SEGMENT_KINDS.get(first)


def junk_reason(article: Article) -> str | None:
    """Why ``article`` is advertising, a sponsored or partner post, shopping deals or a promotion, else None."""
    title = article.title[:_TITLE_CHARS]
    if _SPONSORED_TITLE.search(title):
        return "sponsored content (title)"
    if _SHOPPING_TITLE.search(title):
        return "shopping or deals (title)"
    if _PROMO_TITLE.search(title):
        return "a promotion (app, subscription), not news (title)"
    if _SHELL_TITLE.search(title) or _SHELL_SEGMENTS & set(_segments(article.url)[:-1]):
        return "a newsletter's shell, not a story"
    for category in article.categories:
        folded = fold(category)
        if folded in _JUNK_SEGMENTS or _SPONSORED_TITLE.fullmatch(category.strip()):
            return f"sponsored or shopping category {category!r}"
    talk = {fold(m.group(0)) for m in _SALES_TALK.finditer(f"{article.summary} {article.body}"[:_TEXT_CHARS])}
    if len(talk) >= SALES_TALK_PHRASES:
        return f"an advertisement (sales talk: {', '.join(sorted(talk))})"
    host = urlsplit(article.url).netloc.lower()
    if host.endswith(_APP_STORES):
        return "a promotion (app store link), not news"
    if any(marker in host for marker in _AD_HOSTS):
        return "an advertisement (ad server link)"
    for segment in _segments(article.url)[:-1] or _segments(article.url)[:1]:
        if segment in _JUNK_SEGMENTS:
            return f"sponsored or shopping page (/{segment}/)"
    return None


def kind_of(article: Article) -> Kind:
    """The kind of piece ``article`` is (see the module docstring), with the signal that told it."""
    found: list[Kind] = []
    segments = _segments(article.url)
    # The last segment is the slug: its words are the title's, not a section's.
    for segment in segments[:-1]:
        kind = _segment_kind(segment)
        if kind:
            found.append(Kind(kind, KIND_FACTORS[kind], f"URL /{segment}/"))
            break
    # The first category only: it is the section where there is one; the others are subject tags.
    for category in article.categories[:1]:
        folded = fold(category)
        kind = _SEGMENT_KINDS.get(folded) or _CATEGORY_KINDS.get(folded)
        if kind:
            found.append(Kind(kind, KIND_FACTORS[kind], f"category {category}"))
            break
    kicker = _kicker_kind(article.title[:_TITLE_CHARS]) or _kicker_kind(
        (article.summary or article.body)[:_TITLE_CHARS]
    )
    if kicker:
        found.append(kicker)
    title = article.title[:_TITLE_CHARS]
    for kind_name, pattern in _TITLE_KINDS:
        if pattern.search(title):
            found.append(Kind(kind_name, KIND_FACTORS[kind_name], "title"))
            break
    if not found:
        return NEWS
    live = next((k for k in found if k.name == "live"), None)
    lowest = min(found, key=lambda k: k.factor)
    if live is not None and lowest.name in ("sport", "video"):
        # Live coverage of a match or a live video: live, but of the lesser kind.
        return Kind("live " + lowest.name, live.factor * lowest.factor, f"{live.signal}, {lowest.signal}")
    if live is not None and lowest.factor >= KIND_FACTORS["explainer"]:
        return live
    return lowest
