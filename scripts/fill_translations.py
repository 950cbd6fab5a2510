"""Fill empty msgstr entries of the zh_Hans catalog from a JSON object on stdin
({"English msgid": "中文"}), after `make messages` has added new strings."""

import json
import re
import sys

path = "locale/zh_Hans/LC_MESSAGES/django.po"
tr = json.load(sys.stdin)
text = open(path, encoding="utf-8").read()
missing = []


def repl(m):
    msgid = m.group(1)
    key = msgid.encode().decode("unicode_escape") if "\\" in msgid else msgid
    if key in tr:
        return f'msgid "{msgid}"\nmsgstr "{tr[key]}"\n'
    missing.append(key)
    return m.group(0)


text = re.sub(r'msgid "((?:[^"\\]|\\.)+)"\nmsgstr ""\n(?!")', repl, text)
open(path, "w", encoding="utf-8").write(text)
print("still missing:", missing)
