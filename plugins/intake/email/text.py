"""What a resident wrote, as safe plain text: HTML reduced to text, quoted history and signatures cut,
e-mail addresses hidden, a length limit kept (cut with a marker, never refused)."""
from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never text: scripts, styles, the head, embedded objects and forms.
DROPPED = {"script", "style", "head", "title", "template", "noscript", "object", "embed", "iframe", "svg", "math", "select", "button"}
BLOCKS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer",
    "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section",
    "table", "tr", "ul",
}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
CUT_MARKER = "\n[…]"

# The line a mail program writes above the message it quotes (English, French, Spanish, German...).
REPLY_HEADER = re.compile(
    r"^\s*(?:On\b.{0,300}\bwrote\s*:|Le\b.{0,300}\ba\s+écrit\s*:|El\b.{0,300}\bescribió\s*:|Am\b.{0,300}\bschrieb\b.{0,100}:"
    r"|-{2,}\s*(?:Original Message|Forwarded message|Message d['’]origine|Message original|Message transféré|Mensaje original)\s*-{0,}"
    r"|_{20,})\s*$",
    re.IGNORECASE,
)
# Outlook's quoted header block: "From: ..." followed within a few lines by "Sent:" / "Date:" (or French).
OUTLOOK_FROM = re.compile(r"^\s*\*?(?:From|De)\s*\*?\s*:", re.IGNORECASE)
OUTLOOK_SENT = re.compile(r"^\s*\*?(?:Sent|Date|Envoyé|Enviado|Gesendet)\s*\*?\s*:", re.IGNORECASE)
# A phone's or a webmail's closing line, cut when it ends the message.
DEVICE_SIGNATURE = re.compile(
    r"^\s*(?:Sent from my\b.*|Sent from (?:Mail|Outlook|Yahoo)\b.*|Get Outlook for\b.*|Envoyé de mon\b.*|Envoyé depuis\b.*"
    r"|Obtenir Outlook pour\b.*|Enviado desde mi\b.*|Von meinem\b.*gesendet)\s*$",
    re.IGNORECASE,
)
EMAIL_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
HIDDEN_ADDRESS = "[…@…]"


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML document; quoted history (``blockquote``, Gmail's and
    Outlook's quote blocks) is dropped when ``drop_quotes``."""

    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hidden) of each open element
        self.hidden = 0

    def _hides(self, tag: str, attrs: dict[str, str | None]) -> bool:
        if tag in DROPPED:
            return True
        if not self.drop_quotes:
            return False
        classes = (attrs.get("class") or "").lower()
        ident = (attrs.get("id") or "").lower()
        return (
            tag == "blockquote"
            or "gmail_quote" in classes
            or "moz-cite-prefix" in classes
            or ident in ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container")
            or "yahoo_quoted" in classes
        )

    def handle_starttag(self, tag, attrs):
        tag = tag.lower()
        if tag == "br":
            self._add("\n")
            return
        if tag in VOID:
            if tag == "hr":
                self._add("\n")
            return
        hides = self._hides(tag, dict(attrs))
        self.stack.append((tag, hides))
        if hides:
            self.hidden += 1
        if tag in BLOCKS:
            self._add("\n")
        if tag == "li":
            self._add("- ")
        if tag in ("td", "th"):
            self._add(" ")

    def handle_endtag(self, tag):
        tag = tag.lower()
        if tag in VOID:
            return
        # Close up to the matching element (browsers forgive unclosed tags: so do we).
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                for _, hides in self.stack[i:]:
                    if hides:
                        self.hidden -= 1
                del self.stack[i:]
                break
        if tag in BLOCKS:
            self._add("\n")

    def handle_data(self, data):
        self._add(re.sub(r"\s+", " ", data))

    def _add(self, text: str) -> None:
        if not self.hidden:
            self.parts.append(text)

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.parts).replace("\xa0", " ").splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, *, drop_quotes: bool = True) -> str:
    """The visible text of an HTML e-mail: no tags, no scripts or styles, entities decoded."""
    parser = _TextExtractor(drop_quotes)
    parser.feed(html)
    parser.close()
    return parser.text()


def _quote_start(lines: list[str]) -> int | None:
    """The index of the first line of quoted history, or None."""
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            # "On ..., X wrote:" wrapped over two lines sits just above the quote.
            if i >= 2 and REPLY_HEADER.match(f"{lines[i - 2]} {lines[i - 1]}"):
                return i - 2
            return i - 1 if i >= 1 and REPLY_HEADER.match(lines[i - 1]) else i
        if REPLY_HEADER.match(line) or (i + 1 < len(lines) and REPLY_HEADER.match(f"{line} {lines[i + 1]}") and not REPLY_HEADER.match(lines[i + 1])):
            return i
        if OUTLOOK_FROM.match(line) and any(OUTLOOK_SENT.match(nxt) for nxt in lines[i + 1 : i + 5]):
            return i
    return None


def trim_reply(text: str, *, keep_all_when_empty: bool = True) -> str:
    """The new part of a message: quoted history and the signature cut.  When nothing would be left
    (a forwarded message with no words of its own), the whole text is kept, or "" when not
    ``keep_all_when_empty`` (a reply that only quotes adds nothing)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start = _quote_start(lines)
    kept = lines if start is None else lines[:start]
    # The signature: everything after the "-- " line (RFC 3676), and a device line at the end.
    for i, line in enumerate(kept):
        if line in ("-- ", "--"):
            kept = kept[:i]
            break
    while kept and (not kept[-1].strip() or DEVICE_SIGNATURE.match(kept[-1])):
        kept.pop()
    trimmed = "\n".join(kept).strip()
    return trimmed or (text.strip() if keep_all_when_empty else "")


def hide_addresses(text: str) -> str:
    """E-mail addresses replaced (texts residents and the public may see carry none)."""
    return EMAIL_ADDRESS.sub(HIDDEN_ADDRESS, text)


def clamp(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with a marker when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(CUT_MARKER)].rstrip() + CUT_MARKER


def tidy(text: str) -> str:
    """Trailing spaces off, at most one empty line in a row, control characters out."""
    text = "".join(ch for ch in text if ch in "\n\t" or ch >= " ")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
