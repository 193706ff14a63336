"""The first deb source of a suite in this machine's apt configuration: the mirror .ci/container-proof debootstraps from.

    python .ci/container-apt-mirror.py bookworm
"""

import glob
import re
import sys

suite, entries = sys.argv[1], []
for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        match = re.match(r"deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.split("#", 1)[0].strip())
        if match:
            entries.append((["deb"], [match[1]], [match[2]], "yes"))
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path).read()):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", stanza, re.M))
        fields = {key.lower(): value.split() for key, value in fields.items()}
        entries.append((fields.get("types", []), fields.get("uris", []), fields.get("suites", []),
                        (fields.get("enabled") or ["yes"])[0].lower()))
for types, uris, suites, enabled in entries:
    if "deb" in types and suite in suites and uris and enabled != "no":
        print(uris[0])
        break
else:
    sys.exit(f"no apt source for {suite} in /etc/apt")
