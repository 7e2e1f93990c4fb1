#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Translations of the tokend Cockpit page, with nothing but Python's standard library.

  i18n.py pot OUT.pot SOURCE...        the strings to translate, from the page's
                                       JS (_(), cockpit.gettext, cockpit.ngettext),
                                       HTML (translate="yes" / translate="ATTR")
                                       and manifest.json (menu labels)
  i18n.py js LANG.po OUT.js            po.LANG.js, as Cockpit serves it for po.js
  i18n.py check SOURCE... -- LANG.po...
                                       every string of the sources is translated
                                       in each LANG.po (not fuzzy), no LANG.po has
                                       a string the sources lost, and each
                                       po.LANG.js beside the page is up to date

Strings in the sources are double-quoted literals on their own: _("text"),
not concatenations, so that a regular expression finds them all.
"""

import html.parser
import json
import os
import re
import sys

STRING = r'"((?:[^"\\\n]|\\.)*)"'
GETTEXT_RE = re.compile(r'(?:\b_|\bcockpit\.gettext)\(\s*' + STRING + r'\s*\)')
NGETTEXT_RE = re.compile(r'\bcockpit\.ngettext\(\s*' + STRING + r'\s*,\s*' + STRING)


def js_unquote(s):
    return json.loads('"' + s + '"')


class HTMLStrings(html.parser.HTMLParser):
    """Texts and attributes that cockpit.translate() translates."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.stack = []                 # [tag, collecting text?, text]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        words = (a.get("translate") or "").split()
        for w in words:
            if w not in ("yes", "translate", "no") and a.get(w):
                self.found.append((a[w], self.getpos()[0]))
        collect = "yes" in words or "translate" in words
        if tag not in ("input", "meta", "link", "br", "img"):
            self.stack.append([tag, collect, "", self.getpos()[0]])

    def handle_data(self, data):
        for entry in self.stack:
            if entry[1]:
                entry[2] += data

    def handle_endtag(self, tag):
        while self.stack:
            t, collect, text, line = self.stack.pop()
            if collect and text:
                self.found.append((text, line))
            if t == tag:
                break


def extract(paths):
    """[(msgid, msgid_plural or None, "file:line")] in order of appearance, once each."""
    seen = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        name = os.path.relpath(path)
        found = []
        if path.endswith(".js"):
            for m in GETTEXT_RE.finditer(text):
                found.append((js_unquote(m.group(1)), None, text.count("\n", 0, m.start()) + 1))
            for m in NGETTEXT_RE.finditer(text):
                found.append((js_unquote(m.group(1)), js_unquote(m.group(2)),
                              text.count("\n", 0, m.start()) + 1))
        elif path.endswith(".html"):
            p = HTMLStrings()
            p.feed(text)
            found = [(s, None, line) for s, line in p.found]
        elif path.endswith(".json"):
            manifest = json.loads(text)
            for section in ("menu", "tools"):
                for item in manifest.get(section, {}).values():
                    if "label" in item:
                        found.append((item["label"], None, 1))
        for msgid, plural, line in sorted(found, key=lambda x: x[2]):
            key = msgid
            if key in seen:
                seen[key][2].append("%s:%d" % (name, line))
            else:
                seen[key] = [msgid, plural, ["%s:%d" % (name, line)]]
    return list(seen.values())


def po_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_pot(out, entries):
    lines = ['# Strings of the tokend Cockpit page ("API tokens").',
             '# Made by cockpit/po/i18n.py pot; copy to LANG.po to translate.',
             'msgid ""', 'msgstr ""',
             '"Content-Type: text/plain; charset=UTF-8\\n"', '']
    for msgid, plural, refs in entries:
        lines.append("#: " + " ".join(refs))
        lines.append("msgid " + po_quote(msgid))
        if plural is None:
            lines.append('msgstr ""')
        else:
            lines.append("msgid_plural " + po_quote(plural))
            lines.append('msgstr[0] ""')
            lines.append('msgstr[1] ""')
        lines.append("")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def parse_po(path):
    """(header dict, [entry]) where entry = {msgid, msgid_plural, msgstr: [..], fuzzy}."""
    entries = []
    cur = None
    field = None

    def finish():
        if cur is not None and "msgid" in cur:
            entries.append(cur)

    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                if cur is None or "msgid" in cur:
                    finish()
                    cur = {"fuzzy": False, "msgstr": {}}
                if line.startswith("#,") and "fuzzy" in line:
                    cur["fuzzy"] = True
                continue
            m = re.match(r'^(msgid|msgid_plural|msgstr(?:\[(\d+)\])?)\s+(".*")$', line)
            if m:
                if m.group(1) == "msgid":
                    if cur is None or "msgid" in cur:
                        finish()
                        cur = {"fuzzy": False, "msgstr": {}}
                field = (m.group(1), int(m.group(2) or 0))
                value = js_unquote(m.group(3)[1:-1])
                if field[0].startswith("msgstr"):
                    cur["msgstr"][field[1]] = value
                else:
                    cur[field[0]] = value
                continue
            if line.startswith('"') and cur is not None and field is not None:
                value = js_unquote(line[1:-1])
                if field[0].startswith("msgstr"):
                    cur["msgstr"][field[1]] += value
                else:
                    cur[field[0]] += value
                continue
            raise SystemExit("%s:%d: cannot parse: %s" % (path, n, line))
    finish()
    header = {}
    body = []
    for e in entries:
        if e["msgid"] == "":
            for h in e["msgstr"].get(0, "").split("\n"):
                if ":" in h:
                    k, v = h.split(":", 1)
                    header[k.strip()] = v.strip()
        else:
            e["msgstr"] = [e["msgstr"][i] for i in sorted(e["msgstr"])]
            body.append(e)
    return header, body


def po_js(po_path):
    header, entries = parse_po(po_path)
    lang = header.get("Language") or os.path.basename(po_path)[:-3]
    plural = "n != 1"
    m = re.search(r"plural\s*=\s*([^;]+);?", header.get("Plural-Forms", ""))
    if m:
        plural = m.group(1).strip()
    if not re.fullmatch(r"[n0-9\s!=<>&|?:%()]+", plural):
        raise SystemExit("%s: Plural-Forms not understood: %s" % (po_path, plural))
    out = ['cockpit.locale({',
           ' "": {"plural-forms": function(n) { return %s; }, "language": %s, "language-direction": "ltr"},'
           % (plural, json.dumps(lang))]
    for e in sorted(entries, key=lambda e: e["msgid"]):
        if e["fuzzy"] or not any(e["msgstr"]):
            continue
        value = [e.get("msgid_plural")] + e["msgstr"]
        out.append(" %s: %s," % (json.dumps(e["msgid"], ensure_ascii=False),
                                  json.dumps(value, ensure_ascii=False)))
    out.append("});")
    return "\n".join(out) + "\n"


def check(sources, pos):
    entries = extract(sources)
    wanted = {msgid: plural for msgid, plural, _ in entries}
    problems = []
    for po in pos:
        _, translated = parse_po(po)
        have = {e["msgid"]: e for e in translated}
        for msgid, plural in wanted.items():
            e = have.get(msgid)
            if e is None:
                problems.append("%s: not translated: %s" % (po, msgid))
            elif e["fuzzy"] or not all(e["msgstr"]):
                problems.append("%s: fuzzy or empty: %s" % (po, msgid))
            elif (e.get("msgid_plural") is None) != (plural is None):
                problems.append("%s: plural forms differ: %s" % (po, msgid))
        for msgid in have:
            if msgid not in wanted:
                problems.append("%s: no longer in the sources: %s" % (po, msgid))
        js = os.path.join(os.path.dirname(os.path.dirname(po)),
                          "po.%s.js" % os.path.basename(po)[:-3])
        try:
            with open(js, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != po_js(po):
            problems.append("%s is out of date with %s: run make cockpit-po" % (js, po))
    for p in problems:
        print("check-cockpit-po: " + p)
    print("check-cockpit-po: %d strings, %d language(s), %d problem(s)"
          % (len(wanted), len(pos), len(problems)))
    return 1 if problems else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "pot":
        write_pot(argv[2], extract(argv[3:]))
        return 0
    if len(argv) == 4 and argv[1] == "js":
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(po_js(argv[2]))
        return 0
    if len(argv) >= 3 and argv[1] == "check" and "--" in argv:
        i = argv.index("--")
        return check(argv[2:i], argv[i + 1:])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
