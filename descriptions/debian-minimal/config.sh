#!/bin/bash
# Runs inside the image root after the packages are installed.
set -euo pipefail
test -f /.profile && . /.profile

echo "configuring ${kiwi_iname}-${kiwi_iversion} (${kiwi_type})"

# Generate the locale the description asks for (kiwi_language, e.g. en_US).
if [ -n "${kiwi_language:-}" ]; then
    for locale in ${kiwi_language//,/ }; do
        sed -i "s/^# *\(${locale}.UTF-8 UTF-8\)/\1/" /etc/locale.gen
    done
    locale-gen
fi
