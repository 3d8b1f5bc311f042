#!/bin/bash
# Runs inside the image root after the packages are installed.
set -euo pipefail
test -f /.profile && . /.profile

echo "configuring ${kiwi_iname}-${kiwi_iversion} (${kiwi_type})"

# A container has no use for apt's lists once built; they only add size.
rm -rf /var/lib/apt/lists/*
