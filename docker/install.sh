#!/bin/sh
# Install the service into a fresh virtual environment and copy the rule pack beside it.
#
#   sh docker/install.sh VENV_DIR PACK_DIR      (run from a folder holding pyproject.toml, service/, rules/, seeds/)
#
# docker/Dockerfile runs exactly this in its build stage; tests/deploy/test_install.py runs it on a copy of the
# same files into a temporary folder, so what the image does is tested on machines without a container engine.
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: sh docker/install.sh VENV_DIR PACK_DIR" >&2
    exit 2
fi
venv=$1
pack=$2

python3 -m venv "$venv"
# A regular (not editable) install: the image holds the built package, not the source tree.
"$venv/bin/python" -m pip install --disable-pip-version-check .

# The pack refers to its provenance folder as ../seeds, so rules/ and seeds/ stay siblings.
mkdir -p "$pack"
cp -R rules seeds "$pack/"

# Fail the build, not the first start, when the baked pack does not load.
"$venv/bin/screening" rules check "$pack/rules"
