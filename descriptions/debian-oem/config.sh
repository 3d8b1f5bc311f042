#!/bin/bash
# Runs inside the image root after the packages are installed.
set -euo pipefail
test -f /.profile && . /.profile

echo "configuring ${kiwi_iname}-${kiwi_iversion} (${kiwi_type})"

# The image boots in a VM: a console on the first serial line, the kernel's console too.
systemctl enable serial-getty@ttyS0.service
