"""Fill empty msgstr entries of the zh_Hans catalog from a JSON object on stdin
({"English msgid": "中文"}), after `make messages` has added new strings."""

import json
import re
import sys
from pathlib import Path

CATALOG = Path("locale/zh_Hans/LC_MESSAGES/django.po")
EMPTY_ENTRY = re.compile(r'msgid "((?:[^"\\]|\\.)+)"\nmsgstr ""\n(?!")')


def main():
    translations = json.load(sys.stdin)
    missing = []

    def fill(match):
        msgid = match.group(1)
        key = msgid.encode().decode("unicode_escape") if "\\" in msgid else msgid
        if key in translations:
            return f'msgid "{msgid}"\nmsgstr "{translations[key]}"\n'
        missing.append(key)
        return match.group(0)

    text = EMPTY_ENTRY.sub(fill, CATALOG.read_text(encoding="utf-8"))
    CATALOG.write_text(text, encoding="utf-8")
    print("still missing:", missing)


if __name__ == "__main__":
    main()
