"""What an HTML page makes a browser load, read without a browser.

The suite checks the interactive page by what its markup names: every URL a
browser would fetch or follow, and any script written into the page itself.
"""

from html.parser import HTMLParser

# The attributes through which HTML has the browser fetch something, or go somewhere.
URL_ATTRIBUTES = frozenset({"src", "href", "action", "formaction", "poster", "data"})


class References(HTMLParser):
    """The URLs a page names, and its inline scripts (script elements with code, on* attributes)."""

    def __init__(self, page: str):
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value:
                self.urls.append(value)
            elif name.startswith("on"):
                self.inline_scripts.append(f"<{tag} {name}={value!r}>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(f"<script>{data.strip()[:80]}")
