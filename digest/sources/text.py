"""One cleaning pass for the text of any source (feed, page, snapshot), and sentence-aware cutting. Pure.

Markup becomes blocks of plain text: block elements (paragraphs, list items, headings, line breaks) end a
block, inline elements (links, emphasis) vanish without leaving a space, and the space that a removed link
leaves before a comma or a full stop is taken out again. Boilerplate that feeds append to an article ("Read
more", "The post X appeared first on Y", app and newsletter promotions, "[…]") is cut from the end, and a
summary that only promises text to come ("details shortly") or repeats the title is no summary.

Sentences end at ``. ! ? … ؟ ۔`` (with any closing quote or bracket), unless the word before the full stop
is an abbreviation (M., Mme, Dr, St., Sen., Jan., …) or an initial, or the next word starts in lower case.
"""

from __future__ import annotations

import html
import re

from digest.sources.clean import title_key

_TAG = re.compile(r"</?[a-zA-Z][^<>]*>|<!--.*?-->", re.DOTALL)
# Elements whose text is never article text: scripts and styles, embedded players, and figure captions and
# credits (image metadata: the caption of a photo is not the article).
_DROPPED = re.compile(r"(?i)<(script|style|noscript|iframe|object|svg|figcaption)\b")
_RAW_TEXT = frozenset({"script", "style", "noscript"})  # unclosed, they run to the end of the document
_BLOCK = re.compile(
    r"""(?ix)</?(?:p|div|h[1-6]|li|ul|ol|dl|dt|dd|blockquote|figure|pre|table|tr|td|th|section|article|header|
    footer|aside|main|nav|address|hr|br|body)\b[^<>]*>"""
)
_IMAGE_TAG = re.compile(r"(?i)<img\b[^<>]*>")
# C0 and C1 controls (CR and LF included: breaks are decided by markup), zero-width and soft-hyphen characters.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b\u2060\ufeff]+")
_PARAGRAPH = "\u2029"  # marks a block break while markup is taken apart
_BLANK_LINE = re.compile(r"\r?\n[ \t\u00a0]*\r?\n")
_SPACES = re.compile(r"\s+")
# A space left before closing punctuation (where a link or an emphasis was removed: "last week , we").
_SPACE_BEFORE_CLOSING = re.compile(r"[ \t]+(?=[,.)\]،؛](?:[\s»”\"’')\]]|$))")
_SPACE_AFTER_OPENING = re.compile(r"(?<=[(\[])[ \t]+")
_SPACE_BEFORE_SEMICOLON = re.compile(r"[ \t]+(?=;)")
# French typography puts a (narrow) no-break space before ; : ! ? — written as a plain space by most feeds.
_FRENCH_SPACE = re.compile(r"[ \t]+(?=[;:!?](?:\s|$))")

_CLOSERS = re.escape("»”\"’')]")
_END_MARKS = ".!?…؟۔"
# Closing quotes and brackets after a sentence end belong to it, French "»" after its (no-break) space too.
_CLOSING = rf"(?:[{_CLOSERS}]|[ \u00a0\u202f]»)*"
_SENTENCE_END = re.compile(rf"(?:[.!?؟۔]+|…|\.\.\.){_CLOSING}(?=\s|$)")
_ENDS_A_SENTENCE = re.compile(rf"(?:[{_END_MARKS}]|\.\.\.){_CLOSING}\s*$")
# Words that end with a full stop without ending a sentence ("M. Benyaich", "Dr. Alami", "Sen. Warren").
ABBREVIATIONS = frozenset(
    [
        "m",
        "mm",
        "mme",
        "mmes",
        "mlle",
        "mr",
        "mrs",
        "ms",
        "dr",
        "pr",
        "prof",
        "st",
        "ste",
        "sts",
        "mt",
        "ft",
        "av",
        "ave",
        "bd",
        "blvd",
        "nos",
        "nº",
        "pp",
        "cf",
        "vs",
        "gen",
        "col",
        "lt",
        "cpl",
        "sgt",
        "capt",
        "cmdr",
        "adm",
        "maj",
        "gov",
        "sen",
        "rep",
        "reps",
        "rev",
        "hon",
        "pres",
        "supt",
        "insp",
        "atty",
        "jr",
        "sr",
        "jan",
        "janv",
        "feb",
        "fév",
        "fev",
        "févr",
        "mar",
        "apr",
        "avr",
        "jun",
        "jul",
        "juil",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "déc",
        "al",
        "env",
        "vol",
        "éd",
        "fig",
        "j.-c",
        "approx",
        "dept",
        "inc",
        "ltd",
        "corp",
        "bros",
        "tél",
        "a.m",
        "p.m",
        "u.s",
        "u.k",
        "u.n",
        "e.g",
        "i.e",
    ]
)

# "Read more", "Lire la suite sur X", "Continue reading", "اقرأ المزيد": a link to the rest of the article.
_READ_MORE = re.compile(
    r"""(?ix)
    (?:(?P<dots>\s*\[\s*(?:…|\.\.\.)\s*\]|\s*…|\s*\.\.\.)\s*|^|(?<=[.!?؟۔:»"”])\s+|\s*[(\[«]\s*|\s+[-–—|•›»]+\s*)
    (?:lire\ la\ suite|lire\ plus|la\ suite|voir\ la\ suite|en\ savoir\ plus|lire\ l['’]article(?:\ complet)?|
       read\ more|read\ (?:the\ )?(?:full\ |rest\ of\ the\ |whole\ )?(?:story|article|post)|continue\ reading|
       keep\ reading|(?:click|tap|cliquez|cliquer)\ (?:here|ici)\b[^.!?\n]{0,40}|voir\ l['’]article|
       read\ on|full\ story|اقرأ\ المزيد|اقرأ\ أيضا|تابع\ القراءة|المزيد)
    (?:\ (?:of\ this\ (?:story|article|post)|de\ l['’]article|(?:on|at|sur|in|dans|chez|في|على)\ [^.!?؟\n]{1,60}))*
    [\s.…»›→>)\]]*$
    """
)
# WordPress appends "The post X appeared first on Y." (in French: "L’article X est apparu en premier sur Y."),
# syndicated copies "This article originally appeared on Y.".
_WORDPRESS_TAIL = re.compile(
    r"(?is)\s*(?:the post .{1,300}? appeared first on|l['’]article .{1,300}? est apparu en premier sur|"
    r"this (?:article|story|post) (?:was )?(?:originally |first )?(?:appeared|published) (?:on|in|at)|"
    r"cet article (?:a été )?(?:initialement |d['’]abord )?(?:paru|publié) (?:sur|dans)|"
    r"ظهرت المقالة .{1,300}? أولاً على|ظهر المقال .{1,300}? أولا على) .{1,200}$"
)
# A sentence that asks the reader to install an app or subscribe to a newsletter, alerts or a briefing.
_PROMO = re.compile(
    r"""(?ix)^[\s\W]*(?:
      (?:get|download|install|try|sign\ up|subscribe|register|join|follow\ us|receive)\b.{0,120}?
        \b(?:app|apps|newsletters?|email|e-mail|briefing|alerts?|notifications|inbox|podcasts?)\b |
      (?:téléchargez|installez|inscrivez-vous|abonnez-vous|recevez|suivez-nous|retrouvez)\b.{0,120}?
        \b(?:app|application|appli|newsletters?|lettres?\ d['’]information|alertes?|notifications|e-?mails?)\b |
      (?:حمل|حمّل|نزّل|نزل|اشترك|اشتركوا|تابعونا|تابعنا|سجل)\b.{0,120}?(?:تطبيق|النشرة|نشرتنا|البريد|إشعارات)
    )""",
    re.UNICODE,
)
_ELLIPSIS_MARKER = re.compile(r"\s*[\[(]\s*(?:…|\.\.\.)\s*[\])]\s*$")
# Text that only promises text to come: no summary at all.
_PLACEHOLDER = re.compile(
    r"""(?ix)^(?:(?:breaking|update|urgent|alerte|عاجل)\W+)?(?:
      (?:(?:more|further|full|additional)\ )?(?:details|information|info|updates?|news)\ (?:shortly|soon|to\ follow|
        to\ come|later|will\ follow|are\ expected(?:\ soon)?|coming\ soon)(?:\ [a-z ]{0,20})?|
      (?:more|details|story|updates?)\ to\ (?:follow|come)|
      (?:this\ is\ a\ )?(?:breaking|developing)(?:\ news)?\ (?:story|report)(?:[\s,]+(?:and\ |which\ |it\ |that\ )*
        (?:will|may|could|is\ being)\ be\ updated(?:\ [a-z ]{0,30})?)?|
      this\ (?:story|article|page|report)\ (?:is\ developing|(?:will|may)\ be\ updated|is\ being\ updated)
        (?:\ [a-z ]{0,30})?|
      (?:please\ )?check\ back\ (?:soon|later|shortly)?(?:\ ?for\ (?:more|updates|details))?|
      breaking(?:\ news)?|updating|developing|
      plus\ d['’]info(?:rmation)?s?\ (?:à\ venir|à\ suivre|suivront|bientôt|dans\ (?:quelques|un)\ instants?|sous\ peu)|
      (?:les\ )?(?:détails|précisions|informations|infos)\ (?:à\ venir|à\ suivre|suivront|sous\ peu|
        dans\ (?:un|quelques)\ instants?)|
      (?:article|information|infos?|dépêche)\ en\ cours
        (?:\ d(?:e\ |['’])(?:rédaction|mise\ à\ jour|actualisation|développement))?|
      (?:cet\ )?article\ (?:sera|va\ être)\ (?:mis\ à\ jour|actualisé|complété)(?:\ [a-zàâçéèêëîïôûùüÿ' ]{0,30})?|
      (?:article\ )?mis\ à\ jour\ (?:prochainement|bientôt)|à\ suivre|en\ direct|dernière\ minute|
      (?:ال)?(?:تفاصيل|المزيد(?:\ من\ التفاصيل)?)(?:\ أكثر|\ إضافية|\ لاحقة)?\ (?:بعد\ قليل|بعد\ لحظات|لاحقا|لاحقاً|
        تباعا|تباعاً|قريبا|قريباً|تتبع|تُتبع)|
      (?:خبر\ )?عاجل|(?:جار|جاري|جارٍ|قيد)\ التحديث|يتبع
    )$"""
)


_ARABIC_SCRIPT_LANGUAGES = frozenset({"ar", "fa", "ur", "ps", "ku", "sd", "ug"})
_ARABIC_LETTER = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")


def plausible_language(code: str | None, text: str) -> str | None:
    """``code`` unless ``text`` is written in another script (a feed of Arabic articles declaring "en",
    as scrapers and templates often do): then None, and the language is left to detection."""
    if not code:
        return None
    arabic, latin = len(_ARABIC_LETTER.findall(text)), len(_LATIN_LETTER.findall(text))
    if arabic > latin and code not in _ARABIC_SCRIPT_LANGUAGES:
        return None
    if latin > arabic and code in _ARABIC_SCRIPT_LANGUAGES:
        return None
    return code


def _collapse(text: str) -> str:
    """Runs of whitespace as one space; a run holding a (narrow) no-break space stays one, for French."""

    def one(match: re.Match[str]) -> str:
        run = match[0]
        return "\u202f" if "\u202f" in run else "\u00a0" if "\u00a0" in run else " "

    return _SPACES.sub(one, text).strip()


def _drop_elements(markup: str) -> str:
    """``markup`` without the elements that are never article text, in one pass (an unclosed one costs no
    more: a script runs to the end, any other loses only its opening tag)."""
    lower = markup.lower()
    last_closing = {name: lower.rfind(f"</{name}") for name in {m[1].lower() for m in _DROPPED.finditer(markup)}}
    kept, position = [], 0
    while match := _DROPPED.search(markup, position):
        kept.append(markup[position : match.start()])
        name = match[1].lower()
        closing = lower.find(f"</{name}", match.end()) if last_closing[name] >= match.end() else -1
        if closing < 0 and name in _RAW_TEXT:
            position = len(markup)
            continue
        end = markup.find(">", closing if closing >= 0 else match.end())
        position = len(markup) if end < 0 else end + 1
        kept.append(" ")
    kept.append(markup[position:])
    return "".join(kept)


def _tidy(text: str, lang: str | None) -> str:
    """One block's spacing: collapsed, no space before closing punctuation, French spaces kept."""
    text = _collapse(_INVISIBLE.sub(" ", text))
    text = _SPACE_AFTER_OPENING.sub("", _SPACE_BEFORE_CLOSING.sub("", text))
    if lang == "fr":
        return _FRENCH_SPACE.sub("\u202f", text)
    return _SPACE_BEFORE_SEMICOLON.sub("", text)


def blocks(markup: str | None, lang: str | None = None) -> list[str]:
    """Markup (or plain text) as blocks of plain text: tags stripped (block elements and blank lines end a
    block), entities decoded (twice-escaped ones too), invisible characters removed, spacing tidied."""
    text = markup or ""
    if not _BLOCK.search(text):  # plain text: its blank lines are its paragraph breaks
        text = _BLANK_LINE.sub(_PARAGRAPH, text)
    # Feeds often escape markup and entities twice ("&lt;p&gt;", "&amp;#8217;"): take apart, decode, repeat.
    for _ in range(3):
        stripped = _TAG.sub("", _IMAGE_TAG.sub(" ", _BLOCK.sub(_PARAGRAPH, _drop_elements(text))))
        decoded = html.unescape(stripped)
        text = decoded
        if decoded == stripped:
            break
    text = _TAG.sub("", text)
    return [block for block in (_tidy(part, lang) for part in text.split(_PARAGRAPH)) if block]


def plain_text(markup: str | None) -> str:
    """Markup to one line of plain text (a title, a name): its blocks joined by a space."""
    return " ".join(blocks(markup))


def clean_title(markup: str | None) -> str:
    """A title as one line of plain text."""
    return plain_text(markup)


def ends_a_sentence(text: str) -> bool:
    """True when ``text`` ends with a sentence end or an ellipsis (closing quotes and brackets allowed)."""
    return bool(_ENDS_A_SENTENCE.search(text))


def _as_sentences(parts: list[str]) -> str:
    """Blocks joined into running text; a block that does not end a sentence (a heading) gets a full stop,
    so that it is not glued to the next one ("…as your winner After announcing…")."""
    joined = []
    for number, part in enumerate(parts):
        last = number == len(parts) - 1
        if last or ends_a_sentence(part) or part.endswith((":", "،", ",", ";", "—", "-")):
            joined.append(part)
        else:
            joined.append(f"{part}.")
    return " ".join(joined)


def _strip_boilerplate(parts: list[str]) -> list[str]:
    """Blocks without the boilerplate that ends them: read-more links, WordPress's "appeared first on",
    app and newsletter promotions, a trailing "[…]" (kept as an ellipsis)."""
    parts = list(parts)
    while parts:
        last = parts[-1]
        text = _WORDPRESS_TAIL.sub("", last)
        previous = None
        while previous != text:
            previous = text
            text = _READ_MORE.sub(lambda m: "…" if m["dots"] else "", text).rstrip()
            sentences = split_sentences(text)
            if sentences and _PROMO.match(sentences[-1]):
                text = " ".join(sentences[:-1])
        if _ELLIPSIS_MARKER.search(text):
            text = _ELLIPSIS_MARKER.sub("", text).rstrip(" ,;:") + "…"
        if text.strip(" …."):
            parts[-1] = text
            break
        parts.pop()
    return parts


def is_placeholder(text: str) -> bool:
    """True when ``text`` only promises text to come ("details shortly", "التفاصيل بعد قليل")."""
    return bool(_PLACEHOLDER.match(" ".join(text.strip(" .…!:-–—|()[]").casefold().split())))


def clean_summary(markup: str | None, *, title: str = "", lang: str | None = None) -> str:
    """A summary as one paragraph of plain text that ends on a sentence end or an ellipsis.

    Boilerplate tails are removed; a placeholder ("details shortly"), or a text that is the title or the
    start of it, gives an empty summary. A last sentence left unfinished by the source is dropped (or, when
    it is the only one, marked with an ellipsis).
    """
    parts = _strip_boilerplate(blocks(markup, lang))
    text = _as_sentences(parts)
    if not text or is_placeholder(text):
        return ""
    key, title_words = title_key(text), title_key(title)
    if not key or (title_words and title_words.startswith(key)):
        return ""
    extra_words = len(key.split()) - len(title_words.split())
    if title_words and key.startswith(f"{title_words} ") and extra_words <= 4 and not sentence_ends(text):
        return ""  # the title and a name ("Title - The Daily"), as news aggregators write it
    return finish_sentence(text)


def paragraphs(markup: str | None, lang: str | None = None) -> str:
    """Markup to plain-text paragraphs separated by a blank line, boilerplate tails removed."""
    return "\n\n".join(_strip_boilerplate(blocks(markup, lang)))


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the full stop at ``dot`` ends an abbreviation or an initial rather than a sentence."""
    word = text[max(0, dot - 40) : dot].rsplit(maxsplit=1)[-1:] or [""]
    token = word[0].casefold().lstrip("(«\"“'‘[")
    if token in ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
        return True
    return bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", token))  # U.S, e.g, a.m


def sentence_ends(text: str) -> list[int]:
    """The offsets just past each sentence end of ``text`` (the last one included)."""
    ends = []
    for match in _SENTENCE_END.finditer(text):
        after = text[match.end() : match.end() + 8].lstrip()
        if after[:1].islower():
            continue  # "5 p.m. on Monday", "… et puis": the sentence goes on
        if match[0][0] == "." and len(match[0].rstrip(_CLOSERS)) == 1 and _is_abbreviation(text, match.start()):
            continue
        ends.append(match.end())
    return ends


def split_sentences(text: str) -> list[str]:
    """``text`` as its sentences (the last one may lack an end)."""
    sentences, start = [], 0
    for end in sentence_ends(text):
        sentences.append(text[start:end].strip())
        start = end
    rest = text[start:].strip()
    return [s for s in [*sentences, rest] if s]


def _cut_at_word(text: str, limit: int) -> str:
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    cut = cut[:space] if space > 0 else cut[:limit]
    return cut.rstrip(" ,;:-–—(«\"“'‘") + "…"


def finish_sentence(text: str) -> str:
    """``text`` ending on a sentence end or an ellipsis: an unfinished last sentence (a source that cut
    its text) is dropped, or marked with an ellipsis when nothing would be left."""
    text = text.strip()
    if not text or ends_a_sentence(text):
        return text
    ends = sentence_ends(text)
    if ends:
        return text[: ends[-1]]
    return text.rstrip(" ,;:-–—(«\"“'‘") + "…"


def summarize(text: str, limit: int) -> str:
    """The lede of ``text``, about ``limit`` characters, cut at a sentence end (fr, en, ar).

    Paragraphs are read as sentences. The text up to the last sentence end within ``limit`` is kept, unless
    that is under half ``limit``: then the next sentence is kept too, when it ends within half again
    ``limit``. Without any sentence end in reach, the text is cut at a word, with an ellipsis.
    """
    text = _as_sentences([" ".join(part.split()) for part in re.split(r"\n\s*\n", text) if part.strip()])
    if len(text) <= limit:
        return finish_sentence(text)
    reach = limit + limit // 2
    ends = [end for end in sentence_ends(text[: reach + 8]) if end <= reach]
    within = [end for end in ends if end <= limit]
    beyond = [end for end in ends if end > limit]
    if within and (within[-1] >= limit // 2 or not beyond):
        return text[: within[-1]].strip()
    if beyond:
        return text[: beyond[0]].strip()
    return _cut_at_word(text, limit)
